"""Kestra's own Python SDK against a real Perch server: kestrapy 1.3.1 and 2.0.3, on SQLite and
PostgreSQL.

One server per backend (module-scoped) holds the flows; each SDK version runs
``kestrapy_driver.py`` in a subprocess of its own with only that version on its path (``make
sdks`` installs both in ``.sdks/``). The driver creates, gets, searches, graphs, evaluates in,
resumes, reads the outputs of, pauses, kills and restarts executions and searches triggers,
through the SDK's methods, and validates every answer with the SDK's models; each step must
pass.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import ADMIN, Api, open_test_store, start_api, stop_api
from tests.conftest import KESTRAPY_VERSIONS, sdk_dir

pytestmark = pytest.mark.kestrapy

DRIVER = Path(__file__).with_name("kestrapy_driver.py")
NAMESPACE = "sdk.conformance"
STEPS = [
    "create",
    "get",
    "search",
    "graph",
    "eval",
    "resume",
    "outputs",
    "triggers search",
    "pause and kill",
    "restart",
]

GATE = f"""\
id: gate
namespace: {NAMESPACE}
inputs:
  - id: who
    type: STRING
    defaults: world
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: "hello {{{{ inputs.who }}}}"
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: ok
        type: BOOL
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ outputs.wait.onResume.ok }}}}"
outputs:
  - id: final
    type: STRING
    value: "{{{{ outputs.after.value }}}}"
triggers:
  - id: yearly
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 0 1 1 *"
"""
SLOW = f"""\
id: slow
namespace: {NAMESPACE}
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT60S
"""
FAILING = f"""\
id: failing
namespace: {NAMESPACE}
tasks:
  - id: boom
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: boom
"""


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def sdk_api(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Api]:
    """One server per backend for both SDK versions, with the flows they drive."""
    running = start_api(open_test_store(request.param, tmp_path_factory.mktemp("sdk")))
    for source in (GATE, SLOW, FAILING):
        running.deploy(source)
    yield running
    stop_api(running)


def drive(api: Api, version: str) -> dict[str, Any]:
    """Run the driver with kestrapy ``version``; its report."""
    done = subprocess.run(
        [sys.executable, "-I", str(DRIVER), sdk_dir(version), api.url, *ADMIN, NAMESPACE],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


@pytest.mark.parametrize("version", KESTRAPY_VERSIONS)
def test_the_sdk_drives_perch_and_accepts_every_answer(sdk_api: Api, version: str) -> None:
    report = drive(sdk_api, version)
    assert report["version"] == int(version.split(".", maxsplit=1)[0])
    failed = {s["step"]: s["detail"] for s in report["steps"] if not s["ok"]}
    assert failed == {}
    assert [s["step"] for s in report["steps"]] == STEPS
