"""The dashboard of the web UI, on SQLite and PostgreSQL: executions of the last 7 days by state
(an SVG bar chart with text, and the same counts as a table), the approvals waiting for the
viewer, and the median and 90th percentile of the time to decision once paused executions are
resumed; counts limited to what the viewer may read."""

from __future__ import annotations

import re
import time
from datetime import UTC, date, datetime, timedelta

from tests.api.conftest import ADMIN, Api, api, backend, state_is
from tests.api.hitl import HOLD, bind, create
from tests.ui.test_pages import browser, sign_in

from perch import identity
from perch.engine.service.overview import DayCounts, ExecutionsByDay, percentile
from perch.ui.chart import bar_chart, nice_ceiling

__all__ = ["api", "backend"]

QUICK = """\
id: quick
namespace: company.bulk
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: hi
"""
BROKEN = """\
id: broken
namespace: company.bulk
tasks:
  - id: fail
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: on purpose
"""
ELSEWHERE = """\
id: quick
namespace: other.place
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: hi
"""


def _today_row(html: str) -> list[str]:
    today = datetime.now(UTC).date().isoformat()
    row = re.search(rf'<tr><th scope="row">{today}</th>(.*?)</tr>', html)
    assert row, "no row for today"
    return re.findall(r"<td>(\d+)</td>", row.group(1))


def _columns(html: str) -> list[str]:
    head = re.search(r'<table class="list" id="counts">\s*<thead><tr>(.*?)</tr>', html, re.S)
    assert head
    return re.findall(r'<th scope="col">([^<]+)</th>', head.group(1))[1:]


def test_counts_by_state_and_time_to_decision(api: Api) -> None:
    for source in (QUICK, BROKEN, HOLD, ELSEWHERE):
        api.deploy(source)
    done = [create(api, "company.bulk", "quick") for _ in range(3)]
    failed = create(api, "company.bulk", "broken")
    held = [create(api, "company.bulk", "hold") for _ in range(3)]
    create(api, "other.place", "quick")
    for execution_id in done:
        api.wait(execution_id, state_is("SUCCESS"))
    api.wait(failed, state_is("FAILED"))
    for execution_id in held:
        api.wait(execution_id, state_is("PAUSED"))
    with browser(api) as client:
        sign_in(client, *ADMIN)
        html = client.get("/ui/dashboard").text
        assert '3 <span class="unit">approvals</span>' in html
        assert '<p class="figure empty" id="median">—</p>' in html
        counts = dict(zip(_columns(html), _today_row(html), strict=True))
        assert counts == {"PAUSED": "3", "SUCCESS": "4", "FAILED": "1", "Total": "8"}
        assert "<title>" + datetime.now(UTC).date().isoformat() + ": 3 PAUSED</title>" in html
        assert "SUCCESS: <strong>4</strong>" in html
        assert 'role="img"' in html

        time.sleep(1.1)
        for execution_id in held[:2]:
            answer = api.client.post(f"/api/v1/executions/{execution_id}/resume")
            assert answer.status_code == 204, answer.text
        for execution_id in held[:2]:
            api.wait(execution_id, state_is("SUCCESS"))
        html = client.get("/ui/dashboard").text
        assert '1 <span class="unit">approval</span>' in html
        median = re.search(r'<p class="figure" id="median">([^<]+)</p>', html)
        p90 = re.search(r'<p class="figure" id="p90">([^<]+)</p>', html)
        assert median
        assert p90
        assert re.fullmatch(r"\d\.\ds", median.group(1)), median.group(1)
        assert float(median.group(1)[:-1]) >= 1.0
        assert float(p90.group(1)[:-1]) >= float(median.group(1)[:-1])
        assert "2 decisions" in html
        counts = dict(zip(_columns(html), _today_row(html), strict=True))
        assert counts["SUCCESS"] == "6"
        assert counts["PAUSED"] == "1"


def test_a_viewer_sees_the_counts_of_the_namespaces_they_read(api: Api) -> None:
    for source in (QUICK, ELSEWHERE):
        api.deploy(source)
    for namespace in ("company.bulk", "other.place", "other.place"):
        api.wait(create(api, namespace, "quick"), state_is("SUCCESS"))
    reader = identity.create_user(api.store, "vic", "vic-password-123")
    bind(api, "USER", reader.id, "Viewer", namespace="other")
    outsider = identity.create_user(api.store, "oz", "oz-password-123")
    bind(api, "USER", outsider.id, "Editor", namespace="nowhere")
    with browser(api) as client:
        sign_in(client, "vic", "vic-password-123")
        html = client.get("/ui/dashboard").text
        assert dict(zip(_columns(html), _today_row(html), strict=True)) == {
            "SUCCESS": "2",
            "Total": "2",
        }
        assert '0 <span class="unit">approvals</span>' in html
        assert ">Administration</a>" not in html
    with browser(api) as client:
        sign_in(client, "oz", "oz-password-123")
        html = client.get("/ui/dashboard").text
        assert "No execution started in the last 7 days." in html


def test_the_chart_geometry_and_percentiles() -> None:
    assert [nice_ceiling(v) for v in (0, 1, 3, 7, 11, 40, 120)] == [1, 1, 5, 10, 20, 50, 200]
    assert percentile([5, 1, 3, 2, 4, 6, 7, 8, 9, 10], 0.9) == 9
    assert percentile([42], 0.9) == 42
    first = date(2026, 5, 1)
    data = ExecutionsByDay(
        [
            DayCounts(first, {"SUCCESS": 6, "FAILED": 2}),
            DayCounts(first + timedelta(days=1), {}),
        ],
        ("SUCCESS", "FAILED"),
        {"SUCCESS": 6, "FAILED": 2},
    )
    chart = bar_chart(data)
    full, empty = chart.bars
    assert [t.value for t in chart.ticks] == [0, 2, 4, 6, 8, 10]
    assert [s.state for s in full.segments] == ["SUCCESS", "FAILED"]
    assert full.segments[0].title == "2026-05-01: 6 SUCCESS"
    assert full.segments[0].y + full.segments[0].height == chart.baseline
    assert full.segments[1].y + full.segments[1].height == full.segments[0].y  # stacked
    assert empty.segments == []
    assert full.label == "Fri 01"
