"""Worker groups: jobs carry what workers filter on, and workers register themselves.

- ``jobs`` gains ``worker_group`` (the task's ``workerGroup.key``), ``task_type`` and
  ``namespace``, and an index on ``(worker_group, created)``: a worker's claim reads the oldest
  jobs of its own group only.
- ``workers``: one row per worker process (its group, type patterns, namespace prefixes,
  concurrency), kept alive by heartbeats; a row past ``expires`` is a worker that is gone. The
  executor reads it to tell whether a task's worker group has a live worker.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_DATE = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("jobs", sa.Column("worker_group", sa.String(150), nullable=True))
    op.add_column("jobs", sa.Column("task_type", sa.String(255), nullable=True))
    op.add_column("jobs", sa.Column("namespace", sa.String(255), nullable=True))
    op.create_index("ix_jobs_group_created", "jobs", ["worker_group", "created"])
    op.create_table(
        "workers",
        sa.Column("id", sa.String(255), primary_key=True),
        sa.Column("worker_group", sa.String(150), nullable=True),
        sa.Column("task_types", sa.Text, nullable=False),
        sa.Column("namespaces", sa.Text, nullable=False),
        sa.Column("concurrency", sa.Integer, nullable=False),
        sa.Column("hostname", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("started", _DATE, nullable=False),
        sa.Column("heartbeat", _DATE, nullable=False),
        sa.Column("expires", _DATE, nullable=False),
    )
    op.create_index("ix_workers_group_expires", "workers", ["worker_group", "expires"])


def downgrade() -> None:
    op.drop_index("ix_workers_group_expires", table_name="workers")
    op.drop_table("workers")
    op.drop_index("ix_jobs_group_created", table_name="jobs")
    op.drop_column("jobs", "namespace")
    op.drop_column("jobs", "task_type")
    op.drop_column("jobs", "worker_group")
