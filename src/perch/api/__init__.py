"""The REST API: Kestra's 1.x paths, methods, status codes and JSON shapes, served by FastAPI.

Every route lives under ``/api/v1/{tenant}/…`` and, for the default tenant ``main``, also under
``/api/v1/…``. Every route but ``/health`` and ``/api/v1/configs`` needs credentials (HTTP Basic
for users, ``Authorization: Bearer`` for API tokens). Routes call the service functions of
:mod:`perch.engine.service`; the acting principal is what the engine records.
"""

from __future__ import annotations

from perch.api.app import ApiSettings, create_app

__all__ = ["ApiSettings", "create_app"]
