"""Sessions of the web UI, stored server-side.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_ID = 64
_DATE = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sessions",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(_ID), nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created", _DATE, nullable=False),
        sa.Column("last_seen", _DATE, nullable=False),
        sa.Column("expires", _DATE, nullable=False),
        sa.Column("address", sa.String(255), nullable=True),
        sa.Column("user_agent", sa.String(512), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_sessions"),
    )
    op.create_index("ix_sessions_user_id", "sessions", ["user_id"])
    op.create_index("ix_sessions_expires", "sessions", ["expires"])


def downgrade() -> None:
    op.drop_table("sessions")
