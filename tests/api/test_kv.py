"""The namespace KV store over HTTP, on SQLite and PostgreSQL: typed values put as JSON or text,
read back as ``{"type", "value"}``, listed, expired (410), missing (404), bad keys (422), deleted
one by one and in bulk, kept per tenant, and audited by key."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from tests.api.conftest import Api

from perch.engine.context import context_for
from perch.store.schema import audit

BASE = "/api/v1/main/namespaces"


def _put(api: Api, key: str, body: str, *, json: bool = False, **headers: str) -> None:
    kind = "application/json" if json else "text/plain"
    response = api.client.put(
        f"{BASE}/company.team/kv/{key}",
        content=body.encode(),
        headers={"Content-Type": kind, **headers},
    )
    assert response.status_code == 200, response.text


def _get(api: Api, key: str, namespace: str = "company.team") -> Any:
    return api.client.get(f"{BASE}/{namespace}/kv/{key}")


def test_values_are_typed_as_written(api: Api) -> None:
    cases = [
        ("s", '"hello"', True, "STRING", "hello"),
        ("word", "hello world", False, "STRING", "hello world"),
        ("n", "42", False, "NUMBER", 42),
        ("f", "1.5", True, "NUMBER", 1.5),
        ("b", "true", False, "BOOLEAN", True),
        ("dt", "2024-05-01T10:00:00+02:00", False, "DATETIME", "2024-05-01T08:00:00Z"),
        ("d", "2024-05-01", False, "DATE", "2024-05-01"),
        ("dur", "PT90M", False, "DURATION", "PT1H30M"),
        ("j", '{"a": [1, 2], "b": null}', True, "JSON", {"a": [1, 2], "b": None}),
        ("list", "[1, 2]", False, "JSON", [1, 2]),
    ]
    for key, body, as_json, _, _ in cases:
        _put(api, key, body, json=as_json)
    for key, _, _, kv_type, value in cases:
        response = _get(api, key)
        assert response.status_code == 200, response.text
        assert response.json() == {"type": kv_type, "value": value}, key


def test_list_describes_without_values(api: Api) -> None:
    _put(api, "b-key", "1", description="the second")
    _put(api, "a-key", "2", ttl="PT1H")
    listed = api.client.get(f"{BASE}/company.team/kv")
    assert listed.status_code == 200
    body = listed.json()
    assert [e["key"] for e in body] == ["a-key", "b-key"]
    assert body[1]["description"] == "the second"
    assert "expirationDate" not in body[1]  # no value: left out, as Kestra
    assert body[0]["expirationDate"] is not None
    assert {"creationDate", "updateDate"} <= set(body[0])
    assert "value" not in body[0]
    assert api.client.get(f"{BASE}/company.other/kv").json() == []


def test_missing_is_404_and_expired_is_410(api: Api) -> None:
    missing = _get(api, "nothing")
    assert missing.status_code == 404
    assert "nothing" in missing.json()["message"]
    _put(api, "short", "1", ttl="PT10S")
    assert _get(api, "short").status_code == 200
    clock = context_for(api.store).clock
    later = clock.now() + timedelta(seconds=11)
    original = clock.now
    clock.now = lambda: later  # type: ignore[method-assign]
    try:
        gone = _get(api, "short")
        listed = api.client.get(f"{BASE}/company.team/kv").json()
    finally:
        clock.now = original  # type: ignore[method-assign]
    assert gone.status_code == 410, gone.text
    assert "expired" in gone.json()["message"]
    assert listed == []


def test_bad_keys_bodies_and_ttls_are_422(api: Api) -> None:
    for key in ("-starts-with-dash", "has%20space", "semi;colon", "x" * 256):
        response = api.client.put(f"{BASE}/company.team/kv/{key}", content=b"1")
        assert response.status_code == 422, (key, response.text)
        assert "Invalid key" in response.json()["message"]
    assert _get(api, "bad$key").status_code == 422
    for body in ("NaN", "{bad json", '{"a": Infinity}'):
        response = api.client.put(
            f"{BASE}/company.team/kv/k",
            content=body.encode(),
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 422, (body, response.text)
        assert "json" in response.json()["message"].lower()
    wrong_ttl = api.client.put(f"{BASE}/company.team/kv/k", content=b"1", headers={"ttl": "soon"})
    assert wrong_ttl.status_code == 422
    assert "ttl" in wrong_ttl.json()["message"]
    too_big = api.client.put(f"{BASE}/company.team/kv/k", content=b"x" * 1_100_000)
    assert too_big.status_code in (413, 422)
    assert api.client.get(f"{BASE}/company.team/kv").json() == []


def test_delete_one_and_in_bulk(api: Api) -> None:
    for key in ("a", "b", "c"):
        _put(api, key, '"v"', json=True)
    one = api.client.delete(f"{BASE}/company.team/kv/a")
    assert one.status_code == 200
    assert one.json() is True
    again = api.client.delete(f"{BASE}/company.team/kv/a")
    assert again.status_code == 200
    assert again.json() is False
    bulk = api.client.request(
        "DELETE", f"{BASE}/company.team/kv", json={"keys": ["b", "nope", "c"]}
    )
    assert bulk.status_code == 200, bulk.text
    assert bulk.json() == {"keys": ["b", "c"]}
    assert api.client.get(f"{BASE}/company.team/kv").json() == []
    bad = api.client.request("DELETE", f"{BASE}/company.team/kv", json={"keys": "b"})
    assert bad.status_code == 422


def test_overwrite_keeps_creation_and_audits_by_key(api: Api) -> None:
    _put(api, "k", '"first-value"', json=True)
    _put(api, "k", '"second-value"', json=True)
    assert _get(api, "k").json() == {"type": "STRING", "value": "second-value"}
    api.client.delete(f"{BASE}/company.team/kv/k")
    with api.store.transaction() as tx:  # type: ignore[attr-defined]
        rows = tx.connection.execute(
            select(audit.c.action, audit.c.detail).where(audit.c.resource_type == "KVSTORE")
        ).all()
    assert [r.action for r in rows] == ["KV_CREATED", "KV_UPDATED", "KV_DELETED"]
    assert "first-value" not in str([r.detail for r in rows])


def test_pairs_are_kept_per_tenant(api: Api) -> None:
    api.add_tenant("other")
    _put(api, "shared-name", '"main-value"', json=True)
    other = "/api/v1/other/namespaces/company.team/kv"
    assert api.client.get(f"{other}/shared-name").status_code == 404
    assert api.client.get(other).json() == []
    put = api.client.put(f"{other}/shared-name", content=b'"other-value"')
    assert put.status_code == 200
    assert api.client.get(f"{other}/shared-name").json()["value"] == "other-value"
    assert _get(api, "shared-name").json()["value"] == "main-value"
    assert api.client.delete(f"{other}/shared-name").json() is True
    assert _get(api, "shared-name").status_code == 200
