"""The CLI's remote mode runs against the real API server of the API tests."""

from __future__ import annotations

from tests.api.conftest import api, backend, sqlite_api

__all__ = ["api", "backend", "sqlite_api"]
