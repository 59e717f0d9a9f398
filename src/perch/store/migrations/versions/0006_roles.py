"""Roles (named sets of permissions) and bindings (a role given to a user, a group or a service
account, on one namespace or on the whole tenant).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_ID = 64
_DATE = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "roles",
        sa.Column("id", sa.String(_ID), nullable=False),
        sa.Column("tenant", sa.String(_ID), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("permissions", sa.Text(), nullable=False),
        sa.Column("created", _DATE, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_roles"),
        sa.UniqueConstraint("tenant", "name", name="uq_roles_tenant_name"),
    )
    op.create_table(
        "bindings",
        sa.Column("id", sa.String(_ID), nullable=False),
        sa.Column("tenant", sa.String(_ID), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("external_id", sa.String(_ID), nullable=False),
        sa.Column("role_id", sa.String(_ID), nullable=False),
        sa.Column("namespace", sa.String(255), nullable=True),
        sa.Column("created", _DATE, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_bindings"),
    )
    op.create_index("ix_bindings_external_id", "bindings", ["external_id"])


def downgrade() -> None:
    op.drop_table("bindings")
    op.drop_table("roles")
