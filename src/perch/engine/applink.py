"""``appLink()``: the address of the current execution's page, for links in messages.

The hook is bound to one execution (:meth:`perch.engine.context.EngineContext.hooks_for`), so a
template cannot point it at another one. The base address is the server's public URL
(``PERCH_URL``, else the address the server listens on), asked for when a template calls the
function: the server learns its own port only once it listens. ``appLink('someId')`` names an
app; Perch has no apps, so it links to the same execution page.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from perch.engine.model import Execution
from perch.errors import TemplateRenderError

APP_LINK = "appLink"
DEFAULT_TENANT = "main"

BaseUrl = Callable[[], str | None]


def execution_path(execution: Execution) -> str:
    """The UI path of ``execution``: ``/ui/executions/{namespace}/{flowId}/{id}`` (with the
    tenant first for a tenant other than the default one)."""
    tenant = "" if execution.tenant == DEFAULT_TENANT else f"/{quote(execution.tenant, safe='')}"
    parts = (execution.namespace, execution.flow_id, execution.id)
    return f"/ui{tenant}/executions/" + "/".join(quote(part, safe="") for part in parts)


def execution_url(base_url: str, execution: Execution) -> str:
    """The full address of ``execution``'s page under ``base_url``."""
    return base_url.rstrip("/") + execution_path(execution)


def app_link_hooks(address: BaseUrl) -> Callable[[Execution], Mapping[str, Callable[..., Any]]]:
    """Hooks giving each execution its ``appLink`` (``address()`` read at each call)."""

    def hooks(execution: Execution) -> Mapping[str, Callable[..., Any]]:
        def app_link(app_id: str | None = None, base_url: bool | None = None) -> str:
            if base_url is False:
                return execution_path(execution)
            base = address()
            if not base:
                raise TemplateRenderError("appLink(): the server's address is not known yet")
            return execution_url(base, execution)

        return {APP_LINK: app_link}

    return hooks
