"""Files: the uploaded values of FILE inputs.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "files",
        sa.Column("key", sa.String(1024), nullable=False),
        sa.Column("execution_id", sa.String(64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_files"),
    )
    op.create_index("ix_files_execution_id", "files", ["execution_id"])


def downgrade() -> None:
    op.drop_table("files")
