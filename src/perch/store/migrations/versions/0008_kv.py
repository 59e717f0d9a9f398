"""The namespace KV store: one typed value per (tenant, namespace, key).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_ID = 64
_DATE = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "kv",
        sa.Column("tenant", sa.String(_ID), nullable=False),
        sa.Column("namespace", sa.String(255), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created", _DATE, nullable=False),
        sa.Column("updated", _DATE, nullable=False),
        sa.Column("expiration", _DATE, nullable=True),
        sa.PrimaryKeyConstraint("tenant", "namespace", "key", name="pk_kv"),
    )


def downgrade() -> None:
    op.drop_table("kv")
