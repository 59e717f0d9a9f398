"""The service functions: what the CLI, the REST API and the UI call to act on flows and
executions. Each takes the acting :class:`~perch.engine.principal.Principal`, which the audit
trail records.

Every change to an execution goes through :func:`perch.engine.executor.apply` (one transaction,
compare-and-set on the version, effects written with the state). Values typed by people are
validated here against their declarations before they reach the engine, and never rendered.
"""

from __future__ import annotations

from perch.engine.service.actions import kill, kill_by_ids, kill_by_query, pause, replay, restart
from perch.engine.service.bulk import BULK_BATCH, BulkResult, Progress, matching_ids
from perch.engine.service.decisions import resume, resume_by_ids, resume_by_query
from perch.engine.service.executions import (
    create_execution,
    get_execution,
    logs,
    search_executions,
)
from perch.engine.service.flows import deploy_flow, get_flow, list_flows
from perch.engine.service.secrets import mask_secrets, secret_texts

__all__ = [
    "BULK_BATCH",
    "BulkResult",
    "Progress",
    "create_execution",
    "deploy_flow",
    "get_execution",
    "get_flow",
    "kill",
    "kill_by_ids",
    "kill_by_query",
    "list_flows",
    "logs",
    "mask_secrets",
    "matching_ids",
    "pause",
    "replay",
    "restart",
    "resume",
    "resume_by_ids",
    "resume_by_query",
    "search_executions",
    "secret_texts",
]
