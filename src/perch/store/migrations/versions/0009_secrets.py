"""The namespace secret store: one encrypted value per (tenant, namespace, key).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_ID = 64
_DATE = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "secrets",
        sa.Column("tenant", sa.String(_ID), nullable=False),
        sa.Column("namespace", sa.String(255), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("value", sa.LargeBinary(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created", _DATE, nullable=False),
        sa.Column("updated", _DATE, nullable=False),
        sa.PrimaryKeyConstraint("tenant", "namespace", "key", name="pk_secrets"),
    )


def downgrade() -> None:
    op.drop_table("secrets")
