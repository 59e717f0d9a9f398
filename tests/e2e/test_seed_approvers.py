"""The seed documents' flows where people decide: only the named admins or groups may resume,
and timed pauses go on by themselves. Same set-up as ``test_seed_flows`` (SQLite and
PostgreSQL, ``appLink()`` wired to the server's own address)."""

from __future__ import annotations

import time

import httpx
import tests.integrations.conftest as integration
from tests.api.conftest import Api
from tests.e2e.test_seed_flows import ended, example, logs, paused_at, resume, start, task_ids
from tests.integrations.conftest import task_run

backend = integration.backend
linked_api = integration.linked_api
default_network_policy = integration.default_network_policy


PASSWORD = "correct horse battery"


def _user(api: Api, name: str, namespace: str, email: str | None = None) -> httpx.Client:
    """A user who may start and resume the namespace's executions, logged in over HTTP."""
    from perch import identity
    from perch.engine.model import DEFAULT_TENANT
    from perch.identity import roles

    user = identity.create_user(api.store, name, PASSWORD, email=email)
    roles.create_binding(
        api.store, DEFAULT_TENANT, "USER", user.id, "Launcher", namespace=namespace
    )
    return httpx.Client(base_url=api.url, auth=(name, PASSWORD), timeout=30)


def test_vm_request_only_the_named_admins_decide(linked_api: Api) -> None:
    api = linked_api
    api.deploy(example("vm_request_by_users"))
    with (
        _user(api, "carol", "examples.infrastructure") as carol,
        _user(api, "grace", "examples.infrastructure", "grace@perch.local") as grace,
    ):
        started = carol.post("/api/v1/main/executions/examples.infrastructure/vm_request_by_users")
        assert started.status_code == 200, started.text
        execution_id = started.json()["id"]
        paused_at(api, execution_id, "admin_approval")
        refused = carol.post(f"/api/v1/main/executions/{execution_id}/resume")
        assert refused.status_code == 403
        assert refused.json()["message"] == "Access denied to resume this execution"
        paused_at(api, execution_id, "admin_approval")
        resume(grace, execution_id)
    done = ended(api, execution_id)
    assert done["state"]["current"] == "SUCCESS"
    assert logs(api, execution_id, "check_request") == [
        "carol asks for a VM: 4 vCPU, 8GB RAM, Debian 12"
    ]
    assert logs(api, execution_id, "provision") == ["grace approved; provisioning for carol"]


def test_release_by_groups_deploys_after_both_signoffs(linked_api: Api) -> None:
    from perch import identity
    from perch.engine.model import DEFAULT_TENANT

    api = linked_api
    api.deploy(example("release_by_groups"))
    with _user(api, "carol", "examples.platform") as carol:
        found = identity.find_user(api.store, "carol")
        assert found is not None
        for name in ("Security Team", "Release Managers"):
            group = identity.create_group(api.store, DEFAULT_TENANT, name)
            identity.set_membership(api.store, group.id, found.id, True, tenant=DEFAULT_TENANT)
        execution_id = start(api, "examples.platform", "release_by_groups", version="v1.2.3")
        paused_at(api, execution_id, "security_review")
        # The superadmin is no assignee.
        assert api.client.post(f"/api/v1/main/executions/{execution_id}/resume").status_code == 403
        resume(carol, execution_id)
        paused_at(api, execution_id, "production_signoff")
        resume(carol, execution_id, window="2027-01-01T10:00:00Z")
    done = ended(api, execution_id)
    assert done["state"]["current"] == "SUCCESS", logs(api, execution_id)
    assert task_ids(done) == ["security_review", "production_signoff", "deploy"]
    [line] = [m for m in logs(api, execution_id, "deploy") if m.startswith("deploying")]
    assert line.startswith("deploying v1.2.3 at 2027-01-01T10:00")


def test_timed_pauses(linked_api: Api) -> None:
    api = linked_api
    api.deploy(example("timed_pauses"))
    execution_id = start(api, "examples.basics", "timed_pauses", grace="PT0.2S")
    paused_at(api, execution_id, "final_call")
    deadline = time.monotonic() + 10
    while not logs(api, execution_id, "remind"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert logs(api, execution_id, "remind") == [
        f"Waiting up to an hour for a go-ahead on {execution_id}"
    ]
    resume(api.client, execution_id)
    paused_at(api, execution_id, "must_answer")
    resume(api.client, execution_id, go="true")
    done = ended(api, execution_id)
    # cooling_off ran out with behavior WARN: the flow went on, and ends WARNING.
    assert done["state"]["current"] == "WARNING"
    assert task_run(done, "cooling_off")["state"]["current"] == "WARNING"
    assert logs(api, execution_id, "after") == ["Went ahead: true"]
