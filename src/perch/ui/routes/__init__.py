"""The routers of the web UI's pages, all mounted under ``/ui``."""

from __future__ import annotations

from fastapi import APIRouter

from perch.ui.routes.admin_accounts import router as admin_accounts
from perch.ui.routes.admin_audit import router as admin_audit
from perch.ui.routes.admin_people import router as admin_people
from perch.ui.routes.admin_roles import router as admin_roles
from perch.ui.routes.approvals import router as approvals
from perch.ui.routes.dashboard import router as dashboard
from perch.ui.routes.execution import router as execution
from perch.ui.routes.executions import router as executions
from perch.ui.routes.flow_editor import router as flow_editor
from perch.ui.routes.flow_execute import router as flow_execute
from perch.ui.routes.flows import router as flows
from perch.ui.routes.livelogs import router as livelogs
from perch.ui.routes.login import router as login
from perch.ui.routes.namespaces import router as namespaces

ROUTERS: tuple[APIRouter, ...]

# The list before the one-execution routes: `/executions/bulk` is not an execution's page.
ROUTERS = (login, approvals, executions, execution)
ROUTERS += (livelogs,)
ROUTERS += (namespaces,)
ROUTERS += (dashboard, admin_people, admin_accounts, admin_roles, admin_audit)
ROUTERS += (flows, flow_editor, flow_execute)

__all__ = ["ROUTERS"]
