"""The web UI: server-rendered pages under ``/ui`` for the people who decide.

A sibling of :mod:`perch.api`: its pages call the same service functions
(:mod:`perch.engine.service`, :mod:`perch.identity`) the REST API calls, and never the REST API
itself. Pages are HTML rendered with Jinja2 (autoescaped: everything shown is text), with a
little JavaScript of Perch's own for what HTML alone cannot do (live logs, confirmations).
Sign-in makes a server-side session (:mod:`perch.identity.sessions`) held in an HttpOnly,
SameSite cookie; every form carries the session's CSRF token.
"""

from __future__ import annotations

from perch.ui.app import UiSettings, install_ui

__all__ = ["UiSettings", "install_ui"]
