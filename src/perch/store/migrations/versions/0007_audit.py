"""The audit trail keyed per tenant: a chain per tenant (``position``), the fields searches
filter on (tenant, resource, namespace, channel, outcome…) and their indexes.

Records written before this revision keep their unkeyed global chain (``position`` stays NULL);
their tenant is their execution's, else the default one.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_ID = 64


def upgrade() -> None:
    with op.batch_alter_table("audit") as batch:
        batch.add_column(sa.Column("tenant", sa.String(_ID), nullable=True))
        batch.add_column(sa.Column("position", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("resource_type", sa.String(32), nullable=True))
        batch.add_column(sa.Column("resource_id", sa.String(255), nullable=True))
        batch.add_column(sa.Column("namespace", sa.String(255), nullable=True))
        batch.add_column(sa.Column("channel", sa.String(16), nullable=True))
        batch.add_column(sa.Column("address", sa.String(255), nullable=True))
        batch.add_column(sa.Column("user_agent", sa.Text(), nullable=True))
        batch.add_column(sa.Column("outcome", sa.String(32), nullable=True))
        batch.add_column(sa.Column("before_state", sa.Text(), nullable=True))
        batch.add_column(sa.Column("after_state", sa.Text(), nullable=True))
    op.execute(
        "UPDATE audit SET"
        " tenant = COALESCE((SELECT e.tenant FROM executions e WHERE e.id = audit.execution_id),"
        " 'main'),"
        " namespace = (SELECT e.namespace FROM executions e WHERE e.id = audit.execution_id),"
        " resource_type = CASE WHEN execution_id IS NULL THEN NULL ELSE 'EXECUTION' END,"
        " resource_id = execution_id,"
        " channel = CASE WHEN principal_kind = 'SYSTEM' THEN 'SYSTEM' ELSE 'API' END,"
        " outcome = CASE WHEN action LIKE '%!_DENIED' ESCAPE '!' THEN 'DENIED'"
        " ELSE 'SUCCESS' END"
    )
    with op.batch_alter_table("audit") as batch:
        batch.alter_column("tenant", existing_type=sa.String(_ID), nullable=False)
        batch.alter_column("channel", existing_type=sa.String(16), nullable=False)
        batch.alter_column("outcome", existing_type=sa.String(32), nullable=False)
        batch.drop_index("ix_audit_execution_id")
        batch.create_index("ix_audit_tenant_position", ["tenant", "position"], unique=True)
        batch.create_index("ix_audit_tenant_seq", ["tenant", "seq"])
        batch.create_index("ix_audit_tenant_execution_id_seq", ["tenant", "execution_id", "seq"])
        batch.create_index(
            "ix_audit_tenant_principal_name_seq", ["tenant", "principal_name", "seq"]
        )
        batch.create_index("ix_audit_tenant_resource_id_seq", ["tenant", "resource_id", "seq"])


def downgrade() -> None:
    with op.batch_alter_table("audit") as batch:
        for name in (
            "ix_audit_tenant_resource_id_seq",
            "ix_audit_tenant_principal_name_seq",
            "ix_audit_tenant_execution_id_seq",
            "ix_audit_tenant_seq",
            "ix_audit_tenant_position",
        ):
            batch.drop_index(name)
        batch.create_index("ix_audit_execution_id", ["execution_id"])
        for column in (
            "after_state",
            "before_state",
            "outcome",
            "user_agent",
            "address",
            "channel",
            "namespace",
            "resource_id",
            "resource_type",
            "position",
            "tenant",
        ):
            batch.drop_column(column)
