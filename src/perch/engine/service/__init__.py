"""The service functions: what the CLI, the REST API and the UI call to act on flows and
executions. Each takes the acting :class:`~perch.engine.principal.Principal`, which the audit
trail records.

Every change to an execution goes through :func:`perch.engine.executor.apply` (one transaction,
compare-and-set on the version, effects written with the state). Values typed by people are
validated here against their declarations before they reach the engine, and never rendered.
"""

from __future__ import annotations

from perch.engine.service.actions import (
    KILL,
    PAUSE,
    RESTART,
    RESUME,
    BulkRule,
    check_all,
    kill,
    kill_by_ids,
    kill_by_query,
    pause,
    pause_by_ids,
    pause_by_query,
    replay,
    restart,
    restart_by_ids,
    restart_by_query,
)
from perch.engine.service.bulk import BULK_BATCH, BulkResult, Progress, matching_ids
from perch.engine.service.decisions import (
    Approval,
    ResumeValidation,
    approvals,
    resume,
    resume_by_ids,
    resume_by_query,
    validate_resume,
)
from perch.engine.service.executions import (
    CreateValidation,
    create_execution,
    delete_execution,
    delete_executions,
    get_execution,
    logs,
    search_executions,
    validate_create_inputs,
)
from perch.engine.service.flows import deploy_flow, get_flow, list_flows
from perch.engine.service.secrets import mask_secrets

__all__ = [
    "BULK_BATCH",
    "KILL",
    "PAUSE",
    "RESTART",
    "RESUME",
    "Approval",
    "BulkResult",
    "BulkRule",
    "CreateValidation",
    "Progress",
    "ResumeValidation",
    "approvals",
    "check_all",
    "create_execution",
    "delete_execution",
    "delete_executions",
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
    "pause_by_ids",
    "pause_by_query",
    "replay",
    "restart",
    "restart_by_ids",
    "restart_by_query",
    "resume",
    "resume_by_ids",
    "resume_by_query",
    "search_executions",
    "validate_create_inputs",
    "validate_resume",
]
