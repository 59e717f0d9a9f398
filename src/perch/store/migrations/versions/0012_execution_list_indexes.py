"""Indexes in the executions list's order (newest first, the id breaking ties), so that a page
of executions reads its 25 rows instead of sorting every execution of the tenant.

Without them SQLite picks ``(tenant, state)`` for ``WHERE tenant = ?`` and sorts the whole tenant
(documents included) for each page: 250 ms for page 1 of 100,000 executions, 490 ms for page 50.

- ``(tenant, start_date, id, state)``: the unfiltered list; ``state`` last makes it cover the
  dashboard's counts by day and state.
- ``(tenant, namespace, flow_id, start_date, id)``: a flow's executions (the flow page).
- ``(tenant, state)`` and ``(tenant, namespace, flow_id, state)`` gain ``start_date, id``: a
  state filter (the inbox's PAUSED, FAILED…) and the oldest QUEUED execution of a flow read in
  order too. Their prefixes still serve every query the narrower ones did.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_executions_tenant_start", "executions", ["tenant", "start_date", "id", "state"]
    )
    op.create_index(
        "ix_executions_flow_start",
        "executions",
        ["tenant", "namespace", "flow_id", "start_date", "id"],
    )
    op.create_index(
        "ix_executions_tenant_state_start", "executions", ["tenant", "state", "start_date", "id"]
    )
    op.create_index(
        "ix_executions_flow_state_start",
        "executions",
        ["tenant", "namespace", "flow_id", "state", "start_date", "id"],
    )
    op.drop_index("ix_executions_tenant_state", table_name="executions")
    op.drop_index("ix_executions_flow_state", table_name="executions")


def downgrade() -> None:
    op.create_index("ix_executions_tenant_state", "executions", ["tenant", "state"])
    op.create_index(
        "ix_executions_flow_state", "executions", ["tenant", "namespace", "flow_id", "state"]
    )
    op.drop_index("ix_executions_flow_state_start", table_name="executions")
    op.drop_index("ix_executions_tenant_state_start", table_name="executions")
    op.drop_index("ix_executions_flow_start", table_name="executions")
    op.drop_index("ix_executions_tenant_start", table_name="executions")
