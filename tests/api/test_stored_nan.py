"""A NaN stored before JSON bodies were checked (an older database) no longer breaks the
executions pages: it reads back as null."""

from __future__ import annotations

from sqlalchemy import update
from tests.api.conftest import Api, state_is

from perch.store.schema import executions

FLOW = """
id: typed
namespace: company.team
inputs:
  - id: j
    type: JSON
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
"""


def test_a_stored_nan_reads_back_as_null_and_every_page_answers(sqlite_api: Api) -> None:
    api = sqlite_api
    api.deploy(FLOW)
    created = api.client.post(
        "/api/v1/executions/company.team/typed", files={"j": (None, '{"x": 1.5}')}
    )
    assert created.status_code == 200, created.text
    execution_id = created.json()["id"]
    api.wait(execution_id, state_is("PAUSED"))
    store = api.store
    with store.transaction() as tx:  # type: ignore[attr-defined]
        document = (
            tx.connection.execute(executions.select().where(executions.c.id == execution_id))
            .one()
            .document
        )
        assert '"x":1.5' in document
        tx.connection.execute(
            update(executions)
            .where(executions.c.id == execution_id)
            .values(document=document.replace('"x":1.5', '"x":NaN'))
        )
    store.cache.clear()  # type: ignore[attr-defined]
    page = api.client.get("/api/v1/executions/search")
    assert page.status_code == 200, page.text
    one = api.client.get(f"/api/v1/executions/{execution_id}")
    assert one.status_code == 200, one.text
    assert one.json()["inputs"]["j"] == {"x": None}
