"""Sandbox probes that already held before the hardening work: kept as regressions."""

from __future__ import annotations

from tests.security.conftest import ENV_SECRET, HealthWatch, Live


def test_no_python_attribute_is_reachable(live: Live, health: HealthWatch) -> None:
    static = live.client.post(
        "/api/v1/main/flows",
        content=(
            "id: attributes\nnamespace: probes\ntasks:\n  - id: read\n"
            '    type: io.kestra.plugin.core.log.Log\n    message: "{{ inputs.__class__ }}"\n'
        ),
        headers={"Content-Type": "application/x-yaml"},
    )
    assert static.status_code == 422
    assert "__class__" in static.text
    # A path built at run time fails the task instead.
    result = live.run(
        """
id: attributes
namespace: probes
tasks:
  - id: read
    type: io.kestra.plugin.core.log.Log
    message: "{% set k = '__cla' ~ 'ss__' %}{{ flow[k] }}{{ ''[k] }}"
"""
    )
    assert result["state"]["current"] == "FAILED"
    assert ENV_SECRET not in live.client.get(f"/api/v1/main/logs/{result['id']}").text


def test_range_is_capped(live: Live, health: HealthWatch) -> None:
    result = live.run(
        """
id: big_range
namespace: probes
tasks:
  - id: loop
    type: io.kestra.plugin.core.log.Log
    message: "{{ range(0, 100000000) | length }}"
"""
    )
    assert result["state"]["current"] == "FAILED"
    messages = " ".join(line["message"] for line in live.logs(result["id"]))
    assert "limit" in messages
