"""The web UI over plain HTTP, on SQLite and PostgreSQL: sign-in with a redirect back to the
page asked for, the Resume form generated from ``onResume`` with errors next to their fields,
the CSRF check, HumanTask assignment, the inbox, escaping, and sessions ending with the user."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import httpx

from perch import identity
from perch.ui.render import moment

__all__ = ["api", "backend"]
from tests.api.conftest import ADMIN, Api, api, backend, state_is
from tests.api.hitl import bind, create

APPROVAL = """\
id: vacation
namespace: hr.operations
description: "<script>alert('desc')</script> {{ 7*7 }}"
inputs:
  - id: employee
    type: STRING
tasks:
  - id: await_decision
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: approved
        type: BOOLEAN
        displayName: Approve this request?
      - id: reason
        type: STRING
        displayName: "Decision notes <b>{{ 7*7 }}</b>"
      - id: team
        type: SELECT
        values: [HR, Finance, IT]
        defaults: HR
  - id: done
    type: io.kestra.plugin.core.log.Log
    message: >-
      {{ outputs.await_decision.onResume.reason }}
      by {{ outputs.await_decision.resumed.by }}
"""

HUMAN = """\
id: signoff
namespace: infrastructure
tasks:
  - id: it_admin_approval
    type: io.kestra.plugin.ee.flow.HumanTask
    assignment:
      users: [ana]
"""


def browser(api: Api) -> httpx.Client:
    return httpx.Client(base_url=api.url, timeout=30, follow_redirects=False)


def sign_in(client: httpx.Client, login: str, password: str, next_page: str = "") -> httpx.Response:
    answer = client.post(
        "/ui/login", data={"login": login, "password": password, "next": next_page}
    )
    return answer


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def _state(api: Api, execution_id: str) -> str:
    state: str = api.client.get(f"/api/v1/executions/{execution_id}").json()["state"]["current"]
    return state


def _page(api: Api, execution_id: str) -> str:
    return f"/ui/executions/hr.operations/vacation/{execution_id}"


def _paused(api: Api) -> str:
    api.deploy(APPROVAL)
    execution_id = create(api, "hr.operations", "vacation", {"employee": "<i>Zoë</i> {{ 6*7 }}"})
    api.wait(execution_id, state_is("PAUSED"))
    return execution_id


def test_a_link_leads_through_the_login_to_its_execution(api: Api) -> None:
    execution_id = _paused(api)
    with browser(api) as client:
        first = client.get(_page(api, execution_id))
        assert first.status_code == 303
        assert first.headers["location"].startswith("/ui/login?next=%2Fui%2Fexecutions%2F")
        login_page = client.get(first.headers["location"])
        assert login_page.status_code == 200
        assert 'value="/ui/executions/hr.operations/vacation/' in login_page.text
        wrong = sign_in(client, "admin", "not-it", _page(api, execution_id))
        assert wrong.status_code == 401
        assert "Wrong username or password." in wrong.text
        signed = sign_in(client, *ADMIN, _page(api, execution_id))
        assert signed.status_code == 303
        assert signed.headers["location"] == _page(api, execution_id)
        cookie = signed.headers["set-cookie"].lower()
        assert "httponly" in cookie
        assert "samesite=lax" in cookie
        assert "path=/ui" in cookie
        shown = client.get(_page(api, execution_id))
    assert shown.status_code == 200
    html = shown.text
    assert '<span class="state state-PAUSED" id="state">PAUSED</span>' in html
    assert '<label class="check" for="r-approved">' in html
    assert "Approve this request?" in html
    assert "Decision notes &lt;b&gt;{{ 7*7 }}&lt;/b&gt;" in html
    assert "&lt;i&gt;Zoë&lt;/i&gt; {{ 6*7 }}" in html  # an input value is text, never a template
    assert '<option value="HR" selected>HR</option>' in html
    assert ">Resume</button>" in html
    assert ">Kill</button>" in html
    assert "<script>alert" not in html


def test_an_offsite_next_is_ignored(api: Api) -> None:
    with browser(api) as client:
        for target in ("https://evil.example/x", "//evil.example/x", "/api/v1/flows", "/ui\\x"):
            signed = sign_in(client, *ADMIN, target)
            assert signed.headers["location"] == "/ui/approvals", target


def test_the_resume_form_shows_errors_then_resumes(api: Api) -> None:
    execution_id = _paused(api)
    with browser(api) as client:
        sign_in(client, *ADMIN)
        html = client.get(_page(api, execution_id)).text
        token = csrf_of(html)
        action = _page(api, execution_id) + "/resume"
        forged = client.post(action, data={"approved": "true", "reason": "ok"})
        assert forged.status_code == 403
        assert "This form has expired" in forged.text
        missing = client.post(action, data={"csrf": token, "approved": "true", "team": "IT"})
        assert missing.status_code == 422
        assert 'id="r-reason-error" role="alert"' in missing.text
        assert "required" in missing.text.lower()
        assert '<option value="IT" selected>IT</option>' in missing.text  # what was sent stays
        assert _state(api, execution_id) == "PAUSED"
        unknown = client.post(
            action, data={"csrf": token, "approved": "true", "reason": "fine", "team": "Legal"}
        )
        assert unknown.status_code == 422
        assert 'id="r-team-error"' in unknown.text
        done = client.post(action, data={"csrf": token, "reason": "Outside policy", "team": "HR"})
        assert done.status_code == 303
    ended = api.wait(execution_id, state_is("SUCCESS"))
    decision = ended["taskRunList"][0]["outputs"]
    assert decision["onResume"] == {"approved": False, "reason": "Outside policy", "team": "HR"}
    assert decision["resumed"]["by"] == "admin"
    records = api.client.get(
        "/api/v1/main/auditlogs/search", params={"executionId": execution_id, "action": "RESUME"}
    ).json()["results"]
    assert [(r["channel"], r["principal"]["name"]) for r in records] == [("UI", "admin")]


def test_only_the_assignee_may_decide_a_human_task(api: Api) -> None:
    api.deploy(HUMAN)
    for name in ("ana", "bob"):
        user = identity.create_user(api.store, name, f"{name}-password-123")
        bind(api, "USER", user.id, "Admin")
    execution_id = create(api, "infrastructure", "signoff")
    api.wait(execution_id, state_is("PAUSED"))
    url = f"/ui/executions/infrastructure/signoff/{execution_id}"
    with browser(api) as bob:
        sign_in(bob, "bob", "bob-password-123")
        inbox = bob.get("/ui/approvals").text
        assert "Nothing is waiting for your decision." in inbox
        page = bob.get(url).text
        assert "Access denied to resume this execution. Only ana may decide." in page
        assert ">Resume</button>" not in page
        refused = bob.post(url + "/resume", data={"csrf": csrf_of(page)})
        assert refused.status_code == 403
        assert "Access denied to resume this execution" in refused.text
    assert _state(api, execution_id) == "PAUSED"
    with browser(api) as ana:
        sign_in(ana, "ana", "ana-password-123")
        inbox = ana.get("/ui/approvals").text
        assert f"<code>{execution_id}</code>" in inbox
        decided = ana.post(url + "/resume", data={"csrf": csrf_of(inbox)})
        assert decided.status_code == 303
    ended: dict[str, Any] = api.wait(execution_id, state_is("SUCCESS"))
    assert ended["taskRunList"][0]["outputs"]["resumed"]["by"] == "ana"


def test_a_session_ends_when_its_user_is_disabled_or_signs_out(api: Api) -> None:
    user = identity.create_user(api.store, "cleo", "cleo-password-123")
    bind(api, "USER", user.id, "Viewer")
    with browser(api) as cleo:
        sign_in(cleo, "cleo", "cleo-password-123")
        assert cleo.get("/ui/approvals").status_code == 200
        identity.update_user(api.store, user.id, identity.UserChanges(disabled=True))
        assert cleo.get("/ui/approvals").status_code == 303
    identity.update_user(api.store, user.id, identity.UserChanges(disabled=False))
    with browser(api) as cleo:
        sign_in(cleo, "cleo", "cleo-password-123")
        assert cleo.post("/ui/logout").status_code == 303
        assert cleo.get("/ui/approvals").status_code == 303
    actions = [
        r["action"]
        for r in api.client.get(
            "/api/v1/main/auditlogs/search", params={"principal": "cleo", "size": 50}
        ).json()["results"]
    ]
    assert actions.count("LOGOUT") == 1
    assert "LOGIN" in actions


TIMED = """\
id: timed
namespace: company.team
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
    pauseDuration: PT2H
    behavior: RESUME
    onResume:
      - id: count
        type: INT
        min: 0
        max: 5
        defaults: 0
"""


def test_the_inbox_says_when_a_timed_pause_expires_and_fields_keep_a_zero_bound(
    api: Api,
) -> None:
    api.deploy(TIMED)
    execution_id = create(api, "company.team", "timed")
    paused = api.wait(execution_id, state_is("PAUSED"))
    since = datetime.fromisoformat(paused["taskRunList"][0]["state"]["histories"][-1]["date"])
    with browser(api) as client:
        sign_in(client, *ADMIN)
        inbox = client.get("/ui/approvals").text
    expected = moment(since + timedelta(hours=2))
    found = re.search(r"<dt>Expires</dt><dd>([^<]+)</dd>", inbox)
    assert found is not None
    assert found.group(1) == expected
    assert 'min="0"' in inbox
    assert 'max="5"' in inbox
