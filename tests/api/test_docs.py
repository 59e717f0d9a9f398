"""The interactive docs page works offline: its assets are served by Perch itself."""

from __future__ import annotations

from tests.api.conftest import Api


def test_docs_page_needs_credentials_and_serves_its_assets_locally(sqlite_api: Api) -> None:
    with sqlite_api.anonymous() as anonymous:
        assert anonymous.get("/api/v1/docs").status_code == 401
    page = sqlite_api.client.get("/api/v1/docs")
    assert page.status_code == 200
    assert "/api/v1/openapi.json" in page.text
    assert "cdn" not in page.text.lower()
    script = sqlite_api.client.get("/api/v1/docs/assets/swagger-ui-bundle.js")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    assert sqlite_api.client.get("/api/v1/docs/assets/swagger-ui.css").status_code == 200
