"""Execution counts that do not scan: what the search's total falls back on beyond its exact
threshold.

- ``execution_counts``: one row per ``(tenant, namespace, flow_id, state)`` and its number of
  executions. On SQLite, triggers on ``executions`` keep it (insert, delete, a change of state):
  SQLite has one writer at a time, so they add a few index writes to a transition, never a wait.
  It is filled from the executions already stored. On PostgreSQL it stays empty: concurrent
  transitions of one flow would queue on its counter rows.
- PostgreSQL: extended statistics on ``(tenant, namespace, flow_id, state)`` instead, so that the
  planner's row estimate of a state / namespace / flow filter accounts for how the columns go
  together. ``ANALYZE`` (autovacuum) keeps them current.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_KEY = "tenant, namespace, flow_id, state"

# A row reaching zero stays (a flow keeps coming back): the table holds one row per combination
# ever seen, which is small next to the executions.
_BUMP = """
INSERT INTO execution_counts (tenant, namespace, flow_id, state, n)
VALUES ({row}.tenant, {row}.namespace, {row}.flow_id, {row}.state, {delta})
ON CONFLICT (tenant, namespace, flow_id, state) DO UPDATE SET n = n + {delta};
"""

_TRIGGERS = {
    "executions_count_insert": f"""
CREATE TRIGGER executions_count_insert AFTER INSERT ON executions
BEGIN {_BUMP.format(row="NEW", delta=1)} END""",
    "executions_count_delete": f"""
CREATE TRIGGER executions_count_delete AFTER DELETE ON executions
BEGIN {_BUMP.format(row="OLD", delta=-1)} END""",
    "executions_count_update": f"""
CREATE TRIGGER executions_count_update AFTER UPDATE OF state ON executions
WHEN OLD.state IS NOT NEW.state
BEGIN {_BUMP.format(row="OLD", delta=-1)} {_BUMP.format(row="NEW", delta=1)} END""",
}


def upgrade() -> None:
    op.create_table(
        "execution_counts",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("namespace", sa.String(255), primary_key=True),
        sa.Column("flow_id", sa.String(255), primary_key=True),
        sa.Column("state", sa.String(16), primary_key=True),
        sa.Column("n", sa.BigInteger, nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE STATISTICS executions_flow_state_stats (ndistinct, dependencies, mcv) "
            f"ON {_KEY} FROM executions"
        )
        op.execute("ANALYZE executions")
        return
    op.execute(
        f"INSERT INTO execution_counts ({_KEY}, n) "
        f"SELECT {_KEY}, count(*) FROM executions GROUP BY {_KEY}"
    )
    for statement in _TRIGGERS.values():
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP STATISTICS IF EXISTS executions_flow_state_stats")
    else:
        for name in _TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_table("execution_counts")
