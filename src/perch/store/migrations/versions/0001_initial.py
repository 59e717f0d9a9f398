"""The initial schema: flows, executions, jobs, timers, events, logs, audit.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_ID = 64
_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_DATE = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "flows",
        sa.Column("tenant", sa.String(_ID), nullable=False),
        sa.Column("namespace", sa.String(255), nullable=False),
        sa.Column("id", sa.String(255), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("updated", _DATE, nullable=False),
        sa.PrimaryKeyConstraint("tenant", "namespace", "id", "revision", name="pk_flows"),
    )
    op.create_table(
        "executions",
        sa.Column("id", sa.String(_ID), nullable=False),
        sa.Column("tenant", sa.String(_ID), nullable=False),
        sa.Column("namespace", sa.String(255), nullable=False),
        sa.Column("flow_id", sa.String(255), nullable=False),
        sa.Column("flow_revision", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("start_date", _DATE, nullable=False),
        sa.Column("end_date", _DATE, nullable=True),
        sa.Column("updated", _DATE, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("labels", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_executions"),
    )
    op.create_index("ix_executions_tenant_state", "executions", ["tenant", "state"])
    op.create_index(
        "ix_executions_flow_state", "executions", ["tenant", "namespace", "flow_id", "state"]
    )
    op.create_index("ix_executions_start_date", "executions", ["start_date"])
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(_ID), nullable=False),
        sa.Column("execution_id", sa.String(_ID), nullable=False),
        sa.Column("task_run_id", sa.String(_ID), nullable=False),
        sa.Column("task_id", sa.String(255), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("created", _DATE, nullable=False),
        sa.Column("worker_id", sa.String(255), nullable=True),
        sa.Column("lease_until", _DATE, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_jobs"),
    )
    op.create_index("ix_jobs_created", "jobs", ["created"])
    op.create_index("ix_jobs_execution_id", "jobs", ["execution_id"])
    op.create_table(
        "timers",
        sa.Column("id", sa.String(_ID), nullable=False),
        sa.Column("execution_id", sa.String(_ID), nullable=False),
        sa.Column("task_run_id", sa.String(_ID), nullable=True),
        sa.Column("due", _DATE, nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_timers"),
    )
    op.create_index("ix_timers_due", "timers", ["due"])
    op.create_index("ix_timers_execution_id", "timers", ["execution_id"])
    op.create_table(
        "events",
        sa.Column("seq", _SEQ, autoincrement=True, nullable=False),
        sa.Column("id", sa.String(_ID), nullable=False),
        sa.Column("execution_id", sa.String(_ID), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_events"),
        sa.UniqueConstraint("id", name="uq_events_id"),
    )
    op.create_table(
        "logs",
        sa.Column("seq", _SEQ, autoincrement=True, nullable=False),
        sa.Column("execution_id", sa.String(_ID), nullable=False),
        sa.Column("task_run_id", sa.String(_ID), nullable=True),
        sa.Column("task_id", sa.String(255), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("timestamp", _DATE, nullable=False),
        sa.Column("level", sa.String(8), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_logs"),
    )
    op.create_index("ix_logs_execution_id", "logs", ["execution_id"])
    op.create_table(
        "audit",
        sa.Column("seq", _SEQ, autoincrement=True, nullable=False),
        sa.Column("at", _DATE, nullable=False),
        sa.Column("execution_id", sa.String(_ID), nullable=True),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("principal_name", sa.String(255), nullable=False),
        sa.Column("principal_kind", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_audit"),
    )
    op.create_index("ix_audit_execution_id", "audit", ["execution_id"])


def downgrade() -> None:
    for table in ("audit", "logs", "events", "timers", "jobs", "executions", "flows"):
        op.drop_table(table)
