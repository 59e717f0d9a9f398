"""Identity: users, service accounts and their API tokens.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_ID = 64
_DATE = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.String(_ID), nullable=False),
        sa.Column("username", sa.String(255), nullable=False),
        sa.Column("email", sa.String(255), nullable=True),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("superadmin", sa.Boolean(), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created", _DATE, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("username", name="uq_users_username"),
        sa.UniqueConstraint("email", name="uq_users_email"),
    )
    op.create_table(
        "service_accounts",
        sa.Column("id", sa.String(_ID), nullable=False),
        sa.Column("tenant", sa.String(_ID), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created", _DATE, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_service_accounts"),
        sa.UniqueConstraint("tenant", "name", name="uq_service_accounts_tenant_name"),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(_ID), nullable=False),
        sa.Column("service_account_id", sa.String(_ID), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("prefix", sa.String(32), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created", _DATE, nullable=False),
        sa.Column("expires", _DATE, nullable=True),
        sa.Column("revoked", _DATE, nullable=True),
        sa.Column("last_used", _DATE, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_tokens"),
    )
    op.create_index("ix_api_tokens_token_hash", "api_tokens", ["token_hash"], unique=True)
    op.create_index("ix_api_tokens_service_account_id", "api_tokens", ["service_account_id"])


def downgrade() -> None:
    for table in ("api_tokens", "service_accounts", "users"):
        op.drop_table(table)
