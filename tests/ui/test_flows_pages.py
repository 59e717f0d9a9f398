"""The Flows pages of the web UI over plain HTTP, on SQLite and PostgreSQL: the list and its
search, a flow's page with its graph, triggers, executions and revisions; the editor's
validation and Save; the diff between revisions and the roll back; the Execute form with its
errors next to the fields; escaping; and RBAC (a flow one may not read is not found)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from tests.api.conftest import ADMIN, Api, api, backend, state_is
from tests.api.hitl import bind, create
from tests.ui.test_pages import browser, csrf_of, sign_in

from perch import identity

__all__ = ["api", "backend"]

HELLO = """\
id: hello
namespace: company.team
description: Says hello
labels:
  team: data
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: hello
"""
BRANCHES = """\
id: branches
namespace: company.team
inputs:
  - id: go
    type: BOOLEAN
    defaults: true
tasks:
  - id: first
    type: io.kestra.plugin.core.log.Log
    message: start
  - id: decide
    type: io.kestra.plugin.core.flow.If
    condition: "{{ inputs.go }}"
    then:
      - id: both
        type: io.kestra.plugin.core.flow.Parallel
        tasks:
          - id: left
            type: io.kestra.plugin.core.log.Log
            message: l
          - id: right
            type: io.kestra.plugin.core.log.Log
            message: r
    else:
      - id: skipped
        type: io.kestra.plugin.core.log.Log
        message: s
errors:
  - id: alert
    type: io.kestra.plugin.core.log.Log
    message: failed
triggers:
  - id: nightly
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 2 * * *"
"""
OTHER = """\
id: report
namespace: finance.monthly
tasks:
  - id: total
    type: io.kestra.plugin.core.log.Log
    message: sum
"""
INPUTS = """\
id: greet
namespace: company.team
inputs:
  - id: name
    type: STRING
    displayName: Who to greet
  - id: times
    type: INT
    min: 1
    max: 5
    defaults: 1
  - id: loud
    type: BOOLEAN
    defaults: false
  - id: attachment
    type: FILE
    required: false
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: "hello {{ inputs.name }} x{{ inputs.times }}"
"""
TYPO = """\
id: typo
namespace: company.team
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: hi
  - id: again
    type: io.kestra.plugin.core.log.Log
    mesage: hi
"""


@contextmanager
def _signed_in(api: Api) -> Iterator[httpx.Client]:
    with browser(api) as client:
        sign_in(client, *ADMIN)
        yield client


def _update(api: Api, source: str) -> None:
    flow = re.search(r"^id: (\S+)$", source, re.MULTILINE)
    namespace = re.search(r"^namespace: (\S+)$", source, re.MULTILINE)
    assert flow
    assert namespace
    answer = api.client.put(
        f"/api/v1/flows/{namespace.group(1)}/{flow.group(1)}",
        content=source,
        headers={"Content-Type": "application/x-yaml"},
    )
    assert answer.status_code == 200, answer.text


def _rows(page: str) -> list[str]:
    return re.findall(r'<td><a href="/ui/flows/([^"]+)">', page)


def test_the_list_links_each_flow_and_searches_by_namespace_and_text(api: Api) -> None:
    for source in (HELLO, BRANCHES, OTHER):
        api.deploy(source)
    with _signed_in(api) as client:
        listed = client.get("/ui/flows")
        assert listed.status_code == 200
        assert _rows(listed.text) == [
            "company.team/branches",
            "company.team/hello",
            "finance.monthly/report",
        ]
        assert '<a href="/ui/flows" aria-current="page">Flows</a>' in listed.text
        assert '<span class="tag">team: data</span>' in listed.text
        by_namespace = client.get("/ui/flows", params={"namespace": "finance"}).text
        assert _rows(by_namespace) == ["finance.monthly/report"]
        by_text = client.get("/ui/flows", params={"q": "HELL"}).text
        assert _rows(by_text) == ["company.team/hello"]
        nothing = client.get("/ui/flows", params={"namespace": "company", "q": "report"}).text
        assert _rows(nothing) == []
        assert "No flow matches." in nothing
        assert client.get("/ui/flows/company.team/hello").status_code == 200


def test_the_flow_page_draws_a_node_per_task_and_lists_triggers_and_executions(
    api: Api,
) -> None:
    api.deploy(BRANCHES)
    execution_id = create(api, "company.team", "branches")
    api.wait(execution_id, state_is("SUCCESS"))
    with _signed_in(api) as client:
        shown = client.get("/ui/flows/company.team/branches")
    assert shown.status_code == 200
    page = shown.text
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="graph"' in page
    nodes = re.findall(
        r'<g class="node[^"]*" role="img" aria-label="([^"]+)" data-task="([^"]+)"', page
    )
    assert sorted(task for _, task in nodes) == sorted(
        ["first", "decide", "both", "left", "right", "skipped", "alert"]
    )
    assert ("Task decide, type io.kestra.plugin.core.flow.If", "decide") in nodes
    assert page.count('<path class="edge"') == 5  # first→decide, decide→2, both→2
    assert ">then</text>" in page
    assert ">else</text>" in page
    assert ">errors</text>" in page
    assert f'href="/ui/executions/company.team/branches/{execution_id}"' in page
    triggers = page[page.index('id="triggers-title"') : page.index('id="revisions-title"')]
    assert "<code>nightly</code>" in triggers
    assert "Schedule" in triggers
    assert re.search(r"<td>\d{4}-\d\d-\d\d 02:00:00 UTC</td>", triggers)  # the next date
    assert "<code>go</code>" in page  # the inputs
    assert "Revision 1" in page
    assert 'href="/ui/flows/company.team/branches/execute">Execute</a>' in page


def test_the_editor_validates_as_you_type_with_line_numbers(api: Api) -> None:
    with _signed_in(api) as client:
        editor = client.get("/ui/flows/new")
        assert editor.status_code == 200
        assert '<label for="source">Flow source (YAML)</label>' in editor.text
        assert 'src="/ui/static/flow-editor.js"' in editor.text
        token = csrf_of(editor.text)
        answer = client.post("/ui/flows/validate", data={"csrf": token, "source": TYPO})
        assert answer.status_code == 200
        body = answer.json()
        assert body["valid"] is False
        typo = [p for p in body["problems"] if "mesage" in p["message"]]
        assert typo == [
            {
                "line": 9,
                "column": 5,
                "path": "tasks[1].mesage",
                "message": "unknown property 'mesage' (did you mean 'message'?)",
            }
        ]
        fixed = TYPO.replace("mesage", "message")
        assert client.post("/ui/flows/validate", data={"csrf": token, "source": fixed}).json() == {
            "valid": True,
            "problems": [],
        }
        forged = client.post("/ui/flows/validate", data={"source": fixed})
        assert forged.status_code == 403
        # Editing another flow's id is named on its line.
        api.deploy(HELLO)
        moved = client.post(
            "/ui/flows/validate",
            data={
                "csrf": token,
                "source": HELLO.replace("id: hello", "id: renamed"),
                "namespace": "company.team",
                "flow_id": "hello",
            },
        ).json()
        assert moved["problems"][0]["line"] == 1
        assert "must stay 'hello'" in moved["problems"][0]["message"]
        taken = client.post("/ui/flows/validate", data={"csrf": token, "source": HELLO}).json()
        assert "already exists" in taken["problems"][0]["message"]
        assert client.get("/ui/static/flow-editor.js").headers["content-type"].startswith("text/")


def test_save_creates_then_updates_and_shows_problems_with_their_line(api: Api) -> None:
    with _signed_in(api) as client:
        token = csrf_of(client.get("/ui/flows/new").text)
        refused = client.post("/ui/flows/new", data={"csrf": token, "source": TYPO})
        assert refused.status_code == 422
        assert "Line 9, column 5" in refused.text
        assert "unknown property &#39;mesage&#39;" in refused.text
        assert "mesage: hi\n</textarea>" in refused.text  # what was typed is kept
        assert client.post("/ui/flows/new", data={"source": HELLO}).status_code == 403
        saved = client.post("/ui/flows/new", data={"csrf": token, "source": HELLO})
        assert saved.status_code == 303
        assert saved.headers["location"] == "/ui/flows/company.team/hello?saved=1"
        assert "Saved as revision 1." in client.get(saved.headers["location"]).text
        again = client.post("/ui/flows/new", data={"csrf": token, "source": HELLO})
        assert again.status_code == 422
        assert "Flow id already exists" in again.text
        edit = client.get("/ui/flows/company.team/hello/edit")
        assert edit.status_code == 200
        assert ">\nid: hello\n" in edit.text
        assert "message: hello\n</textarea>" in edit.text
        changed = HELLO.replace("message: hello", "message: hello again")
        updated = client.post(
            "/ui/flows/company.team/hello/edit", data={"csrf": token, "source": changed}
        )
        assert updated.status_code == 303
        assert updated.headers["location"] == "/ui/flows/company.team/hello?saved=2"
        renamed = client.post(
            "/ui/flows/company.team/hello/edit",
            data={"csrf": token, "source": changed.replace("id: hello", "id: other")},
        )
        assert renamed.status_code == 422
        assert "Line 1" in renamed.text
    stored = api.client.get("/api/v1/flows/company.team/hello", params={"source": True}).json()
    assert stored["revision"] == 2
    assert "hello again" in stored["source"]


def test_the_diff_marks_the_changed_line_and_roll_back_restores_it(api: Api) -> None:
    api.deploy(HELLO)
    _update(api, HELLO.replace("message: hello", "message: goodbye"))
    with _signed_in(api) as client:
        diff = client.get("/ui/flows/company.team/hello/revisions", params={"left": 1, "right": 2})
        assert diff.status_code == 200
        rows = re.findall(
            r'<tr class="(added|removed|same)">.*?<span class="visually-hidden">(\w+)</span>'
            r".*?<code>([^<]*)</code>",
            diff.text,
            re.DOTALL,
        )
        changed = [(kind, word, html.unescape(text)) for kind, word, text in rows if kind != "same"]
        assert changed == [
            ("removed", "removed", "    message: hello"),
            ("added", "added", "    message: goodbye"),
        ]
        assert "1 added" in diff.text
        assert "1 removed" in diff.text
        assert 'href="/ui/flows/company.team/hello/revisions/1/restore">Roll back to 1</a>' in (
            diff.text
        )
        confirm = client.get("/ui/flows/company.team/hello/revisions/1/restore")
        assert confirm.status_code == 200
        assert ">Roll back</button>" in confirm.text
        assert "The flow is at revision 2" in confirm.text
        token = csrf_of(confirm.text)
        assert client.post("/ui/flows/company.team/hello/revisions/1/restore").status_code == 403
        rolled = client.post(
            "/ui/flows/company.team/hello/revisions/1/restore", data={"csrf": token}
        )
        assert rolled.status_code == 303
        assert rolled.headers["location"] == "/ui/flows/company.team/hello?restored=1"
        assert "Revision 1 restored as revision 3." in client.get(rolled.headers["location"]).text
        missing = client.get("/ui/flows/company.team/hello/revisions", params={"left": 9})
        assert missing.status_code == 404
    stored = api.client.get("/api/v1/flows/company.team/hello", params={"source": True}).json()
    assert stored["revision"] == 3
    assert stored["source"] == HELLO


def test_execute_shows_a_bad_input_next_to_its_field_then_starts_the_execution(
    api: Api,
) -> None:
    api.deploy(INPUTS)
    with _signed_in(api) as client:
        form = client.get("/ui/flows/company.team/greet/execute")
        assert form.status_code == 200
        assert '<label for="i-name">Who to greet <span class="req">(required)</span></label>' in (
            form.text
        )
        assert 'type="number" value="1"' in form.text
        assert 'min="1"' in form.text
        assert '<input type="checkbox" id="i-loud" name="loud" value="true"' in form.text
        assert '<input id="i-attachment" name="attachment" type="file"' in form.text
        assert 'enctype="multipart/form-data"' in form.text
        token = csrf_of(form.text)
        bad = client.post(
            "/ui/flows/company.team/greet/execute",
            files=[("csrf", (None, token)), ("name", (None, "Zoë")), ("times", (None, "9"))],
        )
        assert bad.status_code == 422
        error = re.search(r'<p class="error" id="i-times-error" role="alert">([^<]+)</p>', bad.text)
        assert error, bad.text
        assert "5" in error.group(1)
        assert 'id="i-times" name="times" type="number" value="9"' in bad.text
        assert 'aria-invalid="true" aria-describedby="i-times-error"' in bad.text
        assert 'value="Zoë"' in bad.text
        started = client.post(
            "/ui/flows/company.team/greet/execute",
            files=[
                ("csrf", (None, token)),
                ("name", (None, "Zoë")),
                ("times", (None, "3")),
                ("loud", (None, "true")),
                ("attachment", ("note.txt", b"a file", "text/plain")),
            ],
        )
        assert started.status_code == 303, started.text
        target = started.headers["location"]
        assert target.startswith("/ui/executions/company.team/greet/")
        execution_id = target.rsplit("/", 1)[1]
        done = api.wait(execution_id, state_is("SUCCESS"))
        assert client.get(target).status_code == 200
    assert done["inputs"]["name"] == "Zoë"
    assert done["inputs"]["times"] == 3
    assert done["inputs"]["loud"] is True
    assert str(done["inputs"]["attachment"]).startswith("kestra:///")


def test_a_description_and_a_label_are_text_never_markup_or_templates(api: Api) -> None:
    api.deploy(
        HELLO.replace(
            "description: Says hello", "description: \"<script>alert('d')</script> {{ 7*7 }}\""
        ).replace("team: data", 'team: "<script>x</script> {{ 7*7 }}"')
    )
    with _signed_in(api) as client:
        for url in ("/ui/flows", "/ui/flows/company.team/hello"):
            page = client.get(url).text
            assert "<script>alert" not in page
            assert "<script>x" not in page
            assert "&lt;script&gt;x&lt;/script&gt; {{ 7*7 }}" in page
            assert "&lt;/script&gt; 49" not in page  # never rendered as a template
        flow_page = client.get("/ui/flows/company.team/hello").text
        assert "&lt;script&gt;alert(&#39;d&#39;)&lt;/script&gt; {{ 7*7 }}" in flow_page


def test_a_viewer_without_flow_read_on_a_namespace_does_not_see_its_flows(api: Api) -> None:
    for source in (HELLO, OTHER):
        api.deploy(source)
    cleo = identity.create_user(api.store, "cleo", "cleo-password-123")
    bind(api, "USER", cleo.id, "Viewer", namespace="company.team")
    with browser(api) as client:
        sign_in(client, "cleo", "cleo-password-123")
        listed = client.get("/ui/flows")
        assert _rows(listed.text) == ["company.team/hello"]
        assert "finance.monthly" not in listed.text  # not even in the namespace choices
        for url in (
            "/ui/flows/finance.monthly/report",
            "/ui/flows/finance.monthly/report/edit",
            "/ui/flows/finance.monthly/report/revisions",
            "/ui/flows/finance.monthly/report/execute",
        ):
            refused = client.get(url)
            assert refused.status_code == 404, url
            assert "Flow &#39;finance.monthly.report&#39; not found" in refused.text
        page = client.get("/ui/flows/company.team/hello").text
        assert ">Execute</a>" not in page  # a Viewer may not create executions
        edit = client.get("/ui/flows/company.team/hello/edit").text
        token = csrf_of(edit)
        assert "Save will be refused" in edit
        changed = HELLO.replace("message: hello", "message: changed")
        saved = client.post(
            "/ui/flows/company.team/hello/edit", data={"csrf": token, "source": changed}
        )
        assert saved.status_code == 403
        assert "FLOW:UPDATE" in saved.text or "Access denied" in saved.text
        run = client.post("/ui/flows/company.team/hello/execute", files=[("csrf", (None, token))])
        assert run.status_code == 403
        restore = client.post(
            "/ui/flows/finance.monthly/report/revisions/1/restore", data={"csrf": token}
        )
        assert restore.status_code == 404
        own = client.post("/ui/flows/company.team/hello/revisions/1/restore", data={"csrf": token})
        assert own.status_code == 403
        assert "FLOW:UPDATE" in own.text
    assert api.client.get("/api/v1/flows/company.team/hello").json()["revision"] == 1
