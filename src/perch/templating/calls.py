"""What a template function receives besides its own arguments."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class CallContext:
    """Passed as the first argument to every template function.

    ``variables`` is the mapping the template is being rendered with. ``hooks`` are callables
    supplied by the caller of ``render`` for functions whose answer lives outside the template
    engine (``secret``, ``kv``, ``appLink``, ``errorLogs``); a function whose hook is missing
    raises :class:`perch.errors.TemplateRenderError` saying it is not available here.
    ``render`` renders a string with the same variables and hooks (used by ``render()``).
    """

    variables: Mapping[str, Any]
    hooks: Mapping[str, Callable[..., Any]] = field(default_factory=dict)
    render: Callable[[str], Any] | None = None
