"""The tables, as SQLAlchemy Core metadata: the one description of the schema.

The Alembic revisions in ``migrations/versions`` must build exactly this schema (a test compares
them). Datetimes are stored in UTC and always come back timezone-aware; an execution is one JSON
document (its task runs included) plus the columns searches and counts filter on.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB

# Fixed constraint names, so the migrations can name them and PostgreSQL and SQLite agree.
metadata = MetaData(
    naming_convention={
        "pk": "pk_%(table_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    }
)


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend.

    SQLite has no zone-aware type: values are converted to naive UTC before they are written (so
    the stored text sorts in time order) and get their zone back when read.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the store needs timezone-aware values")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# An auto-incrementing 64-bit key; SQLite only auto-increments an INTEGER PRIMARY KEY.
SequenceKey: Any = BigInteger().with_variant(Integer(), "sqlite")
# Labels are filtered on: JSONB on PostgreSQL allows containment tests and a GIN index later.
LabelsJson: Any = JSON().with_variant(JSONB(), "postgresql")

ID = 64  # length of id columns: Perch ids are 22 characters, imported ids may be longer

flows = Table(
    "flows",
    metadata,
    Column("tenant", String(ID), primary_key=True),
    Column("namespace", String(255), primary_key=True),
    Column("id", String(255), primary_key=True),
    Column("revision", Integer, primary_key=True),
    Column("source", Text, nullable=False),
    Column("deleted", Boolean, nullable=False),
    Column("updated", UtcDateTime, nullable=False),
)

executions = Table(
    "executions",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("tenant", String(ID), nullable=False),
    Column("namespace", String(255), nullable=False),
    Column("flow_id", String(255), nullable=False),
    Column("flow_revision", Integer, nullable=False),
    Column("state", String(16), nullable=False),
    Column("start_date", UtcDateTime, nullable=False),
    Column("end_date", UtcDateTime, nullable=True),
    Column("updated", UtcDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    Column("labels", LabelsJson, nullable=False),
    # The whole execution as compact JSON text written by ``perch.store.codec``: the store never
    # looks inside it, so text avoids a second encode/decode by the driver.
    Column("document", Text, nullable=False),
    # In the executions list's order (start_date, id), so that a page reads its rows only
    # (migration 0012); state last in the first one covers the dashboard's counts.
    Index("ix_executions_tenant_start", "tenant", "start_date", "id", "state"),
    Index("ix_executions_flow_start", "tenant", "namespace", "flow_id", "start_date", "id"),
    Index("ix_executions_tenant_state_start", "tenant", "state", "start_date", "id"),
    Index(
        "ix_executions_flow_state_start",
        "tenant",
        "namespace",
        "flow_id",
        "state",
        "start_date",
        "id",
    ),
    Index("ix_executions_start_date", "start_date"),
)

# Executions per (tenant, namespace, flow, state), so that a search's total never scans
# (migration 0014). Kept by triggers on SQLite; empty on PostgreSQL, whose planner estimates.
execution_counts = Table(
    "execution_counts",
    metadata,
    Column("tenant", String(ID), primary_key=True),
    Column("namespace", String(255), primary_key=True),
    Column("flow_id", String(255), primary_key=True),
    Column("state", String(16), primary_key=True),
    Column("n", BigInteger, nullable=False),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("execution_id", String(ID), nullable=False),
    Column("task_run_id", String(ID), nullable=False),
    Column("task_id", String(255), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("created", UtcDateTime, nullable=False),
    Column("worker_id", String(255), nullable=True),
    Column("lease_until", UtcDateTime, nullable=True),
    # What workers filter on: the task's workerGroup.key, its type, the execution's namespace.
    Column("worker_group", String(150), nullable=True),
    Column("task_type", String(255), nullable=True),
    Column("namespace", String(255), nullable=True),
    Index("ix_jobs_created", "created"),
    Index("ix_jobs_execution_id", "execution_id"),
    Index("ix_jobs_group_created", "worker_group", "created"),
)

# --- workers: the worker processes alive, with what they claim ------------------------------

workers = Table(
    "workers",
    metadata,
    Column("id", String(255), primary_key=True),
    Column("worker_group", String(150), nullable=True),
    # JSON lists of type patterns and namespace prefixes (empty: any).
    Column("task_types", Text, nullable=False),
    Column("namespaces", Text, nullable=False),
    Column("concurrency", Integer, nullable=False),
    Column("hostname", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started", UtcDateTime, nullable=False),
    Column("heartbeat", UtcDateTime, nullable=False),
    Column("expires", UtcDateTime, nullable=False),
    Index("ix_workers_group_expires", "worker_group", "expires"),
)

timers = Table(
    "timers",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("execution_id", String(ID), nullable=False),
    Column("task_run_id", String(ID), nullable=True),
    Column("due", UtcDateTime, nullable=False),
    Column("action", String(64), nullable=False),
    Column("payload", Text, nullable=False),
    Index("ix_timers_due", "due"),
    Index("ix_timers_execution_id", "execution_id"),
)

events = Table(
    "events",
    metadata,
    Column("seq", SequenceKey, primary_key=True, autoincrement=True),
    Column("id", String(ID), nullable=False, unique=True),
    Column("execution_id", String(ID), nullable=False),
    Column("payload", Text, nullable=False),
)

logs = Table(
    "logs",
    metadata,
    Column("seq", SequenceKey, primary_key=True, autoincrement=True),
    Column("execution_id", String(ID), nullable=False),
    Column("task_run_id", String(ID), nullable=True),
    Column("task_id", String(255), nullable=True),
    Column("attempt", Integer, nullable=False),
    Column("timestamp", UtcDateTime, nullable=False),
    Column("level", String(8), nullable=False),
    Column("message", Text, nullable=False),
    Index("ix_logs_execution_id", "execution_id"),
)

audit = Table(
    "audit",
    metadata,
    Column("seq", SequenceKey, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    Column("execution_id", String(ID), nullable=True),
    Column("action", String(64), nullable=False),
    Column("principal_name", String(255), nullable=False),
    Column("principal_kind", String(32), nullable=False),
    Column("detail", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    # Each tenant has a chain of its own (see perch.store.auditchain); position is the record's
    # place in it, from 1 (None for records written before the chain was keyed).
    Column("tenant", String(ID), nullable=False),
    Column("position", BigInteger, nullable=True),
    Column("resource_type", String(32), nullable=True),
    Column("resource_id", String(255), nullable=True),
    Column("namespace", String(255), nullable=True),
    Column("channel", String(16), nullable=False),
    Column("address", String(255), nullable=True),
    Column("user_agent", Text, nullable=True),
    Column("outcome", String(32), nullable=False),
    Column("before_state", Text, nullable=True),
    Column("after_state", Text, nullable=True),
    Index("ix_audit_tenant_position", "tenant", "position", unique=True),
    # Searches run newest first within one tenant, by execution, principal or resource.
    Index("ix_audit_tenant_seq", "tenant", "seq"),
    Index("ix_audit_tenant_execution_id_seq", "tenant", "execution_id", "seq"),
    Index("ix_audit_tenant_principal_name_seq", "tenant", "principal_name", "seq"),
    Index("ix_audit_tenant_resource_id_seq", "tenant", "resource_id", "seq"),
)

# --- identity: people and machines that call the API (see perch.identity) ----------------------

users = Table(
    "users",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("username", String(255), nullable=False, unique=True),
    # Stored lower-case so an e-mail login matches whatever case it is typed in.
    Column("email", String(255), nullable=True, unique=True),
    Column("password_hash", Text, nullable=False),
    Column("superadmin", Boolean, nullable=False),
    Column("disabled", Boolean, nullable=False),
    Column("created", UtcDateTime, nullable=False),
    Column("display_name", String(255), nullable=True),
)

tenants = Table(
    "tenants",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("created", UtcDateTime, nullable=False),
)

groups = Table(
    "groups",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("tenant", String(ID), nullable=False),
    Column("name", String(255), nullable=False),
    Column("description", Text, nullable=True),
    Column("created", UtcDateTime, nullable=False),
    UniqueConstraint("tenant", "name"),
)

group_members = Table(
    "group_members",
    metadata,
    Column("group_id", String(ID), primary_key=True),
    Column("user_id", String(ID), primary_key=True),
    # A decision looks up the groups of one user: by user first.
    Index("ix_group_members_user_id", "user_id"),
)

roles = Table(
    "roles",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("tenant", String(ID), nullable=False),
    Column("name", String(255), nullable=False),
    Column("description", Text, nullable=True),
    # JSON text: {"FLOW": ["READ", ...], ...}
    Column("permissions", Text, nullable=False),
    Column("created", UtcDateTime, nullable=False),
    UniqueConstraint("tenant", "name"),
)

bindings = Table(
    "bindings",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("tenant", String(ID), nullable=False),
    # USER, GROUP or SERVICE_ACCOUNT; external_id is that user's, group's or account's id.
    Column("type", String(32), nullable=False),
    Column("external_id", String(ID), nullable=False),
    Column("role_id", String(ID), nullable=False),
    # None: the whole tenant; else this namespace and its children.
    Column("namespace", String(255), nullable=True),
    Column("created", UtcDateTime, nullable=False),
    # Every request looks up the bindings of its principal.
    Index("ix_bindings_external_id", "external_id"),
)

service_accounts = Table(
    "service_accounts",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("tenant", String(ID), nullable=False),
    Column("name", String(255), nullable=False),
    Column("description", Text, nullable=True),
    Column("created", UtcDateTime, nullable=False),
    UniqueConstraint("tenant", "name"),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("service_account_id", String(ID), nullable=False),
    Column("name", String(255), nullable=False),
    Column("description", Text, nullable=True),
    Column("prefix", String(32), nullable=False),
    # SHA-256 hex of the whole token: every bearer request looks its token up by this.
    Column("token_hash", String(64), nullable=False),
    Column("created", UtcDateTime, nullable=False),
    Column("expires", UtcDateTime, nullable=True),
    Column("revoked", UtcDateTime, nullable=True),
    Column("last_used", UtcDateTime, nullable=True),
    Index("ix_api_tokens_token_hash", "token_hash", unique=True),
    Index("ix_api_tokens_service_account_id", "service_account_id"),
)

# --- triggers: the state of each flow trigger ------------------------------------------------

triggers = Table(
    "triggers",
    metadata,
    # One row per trigger of a flow's latest revision, kept in step with the flow on every save
    # and removed with it; the scheduler and the Flow-trigger evaluation read and update it.
    Column("tenant", String(ID), primary_key=True),
    Column("namespace", String(255), primary_key=True),
    Column("flow_id", String(255), primary_key=True),
    Column("trigger_id", String(255), primary_key=True),
    Column("type", String(255), nullable=False),
    Column("flow_revision", Integer, nullable=False),
    # Disabled through the API (a trigger disabled in the flow's source has no effect either).
    Column("disabled", Boolean, nullable=False),
    # Schedule: the next date to fire (None once a backfill or the cron has no next date).
    Column("next_date", UtcDateTime, nullable=True),
    # The date of the last execution this trigger started.
    Column("last_date", UtcDateTime, nullable=True),
    Column("last_execution_id", String(ID), nullable=True),
    # Schedule: a backfill under way ({start, end, currentDate, inputs, labels, paused}).
    Column("backfill", Text, nullable=True),
    # Flow trigger with several preconditions: which were met, and when (JSON).
    Column("state", Text, nullable=True),
    Column("updated", UtcDateTime, nullable=False),
    Index("ix_triggers_type", "tenant", "type"),
    Index("ix_triggers_next_date", "next_date"),
)

# --- sessions: signed-in browsers of the web UI ------------------------------------------------

sessions = Table(
    "sessions",
    metadata,
    # SHA-256 hex of the cookie's value: the raw value is never stored.
    Column("id", String(64), primary_key=True),
    Column("user_id", String(ID), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created", UtcDateTime, nullable=False),
    Column("last_seen", UtcDateTime, nullable=False),
    Column("expires", UtcDateTime, nullable=False),
    Column("address", String(255), nullable=True),
    Column("user_agent", String(512), nullable=True),
    Index("ix_sessions_user_id", "user_id"),
    Index("ix_sessions_expires", "expires"),
)

# --- execution runs: the task runs of a large execution, in chunks ----------------------------

execution_runs = Table(
    "execution_runs",
    metadata,
    # An execution with more task runs than one chunk holds keeps them here, a chunk of them
    # per row (JSON text, like ``executions.document``): a write rewrites only the chunks that
    # changed, so a ForEach of 20,000 children does not rewrite the whole list for each one.
    Column("execution_id", String(ID), primary_key=True),
    Column("chunk", Integer, primary_key=True),
    Column("document", Text, nullable=False),
)

# --- files: uploaded FILE inputs, addressed by their kestra:/// URI ------------------------------

files = Table(
    "files",
    metadata,
    Column("key", String(1024), primary_key=True),
    # The execution the file belongs to: deleting the execution deletes its files.
    Column("execution_id", String(ID), nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("created", UtcDateTime, nullable=False),
    Index("ix_files_execution_id", "execution_id"),
)

# --- secrets: the namespace secret store, encrypted -------------------------------------------

secrets = Table(
    "secrets",
    metadata,
    Column("tenant", String(ID), primary_key=True),
    Column("namespace", String(255), primary_key=True),
    Column("key", String(255), primary_key=True),
    # AES-GCM: a 12-byte nonce, then the ciphertext and its tag; the row's tenant, namespace
    # and key are the associated data, so a value copied to another row does not decrypt.
    Column("value", LargeBinary, nullable=False),
    Column("description", Text, nullable=True),
    Column("created", UtcDateTime, nullable=False),
    Column("updated", UtcDateTime, nullable=False),
)

# --- kv: the namespace KV store --------------------------------------------------------------

kv = Table(
    "kv",
    metadata,
    Column("tenant", String(ID), primary_key=True),
    Column("namespace", String(255), primary_key=True),
    Column("key", String(255), primary_key=True),
    # One of Kestra's KV types (STRING, NUMBER, …); ``value`` is its JSON text.
    Column("type", String(16), nullable=False),
    Column("value", Text, nullable=False),
    Column("description", Text, nullable=True),
    Column("created", UtcDateTime, nullable=False),
    Column("updated", UtcDateTime, nullable=False),
    # Past this moment the value is gone (410), though the row stays until written or deleted.
    Column("expiration", UtcDateTime, nullable=True),
)
