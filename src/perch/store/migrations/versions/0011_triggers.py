"""The state of flow triggers: schedules' next dates, backfills, Flow-trigger preconditions.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_ID = 64
_DATE = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "triggers",
        sa.Column("tenant", sa.String(_ID), nullable=False),
        sa.Column("namespace", sa.String(255), nullable=False),
        sa.Column("flow_id", sa.String(255), nullable=False),
        sa.Column("trigger_id", sa.String(255), nullable=False),
        sa.Column("type", sa.String(255), nullable=False),
        sa.Column("flow_revision", sa.Integer(), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("next_date", _DATE, nullable=True),
        sa.Column("last_date", _DATE, nullable=True),
        sa.Column("last_execution_id", sa.String(_ID), nullable=True),
        sa.Column("backfill", sa.Text(), nullable=True),
        sa.Column("state", sa.Text(), nullable=True),
        sa.Column("updated", _DATE, nullable=False),
        sa.PrimaryKeyConstraint("tenant", "namespace", "flow_id", "trigger_id", name="pk_triggers"),
    )
    op.create_index("ix_triggers_type", "triggers", ["tenant", "type"])
    op.create_index("ix_triggers_next_date", "triggers", ["next_date"])


def downgrade() -> None:
    op.drop_table("triggers")
