"""The routers, one module per concept. :data:`ROUTERS` are mounted under ``/api/v1`` and
``/api/v1/{tenant}``; :data:`public_router` (health, configs, setup) is mounted once, without
credentials.

Order matters: Starlette takes the first route that matches, so routes with literal segments
(``/executions/resume/by-ids``, ``/executions/{id}/pause``) come before the catch-all
``POST /executions/{namespace}/{flowId}`` of :mod:`perch.api.routes.executions`.
"""

from __future__ import annotations

from fastapi import APIRouter

from perch.api.routes import (
    accounts,
    actions,
    approvals,
    auditlogs,
    commands,
    decisions,
    executions,
    flows,
    follow,
    groups,
    inspect,
    instance,
    kv,
    logs,
    outputs,
    roles,
    secrets,
    triggers,
    users,
    webhooks,
)
from perch.api.routes.meta import public_router

INSTANCE_ROUTERS: list[APIRouter] = [users.router, instance.router]
"""Mounted once, under ``/api/v1`` only: what belongs to no tenant (users, tenants)."""

ROUTERS: list[APIRouter] = [
    accounts.router,
    groups.router,
    roles.router,
    approvals.router,
    flows.router,
    logs.router,
    follow.router,
    decisions.router,
    actions.router,
    commands.router,
    inspect.router,
    outputs.router,
    auditlogs.router,
    secrets.router,
    kv.router,
    triggers.router,
    executions.router,
]

__all__ = ["INSTANCE_ROUTERS", "ROUTERS", "public_router", "webhooks"]
