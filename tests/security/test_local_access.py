"""Local access: what another user of the machine can reach of a ``perch server local``.

The data folder is created 0700 and the SQLite files 0600; the wake-up socket takes commands
from the server's own user only (see also tests/runtime/test_kill_forwarding.py), and a
``kill:`` line cancels nothing the database does not show as being killed.
"""

from __future__ import annotations

import stat
from pathlib import Path

from tests.e2e.conftest import Server, perch
from tests.e2e.test_server import write_flow

from perch.engine import service
from perch.engine.principal import Principal
from perch.server import being_killed
from perch.store import open_store

GATE = """\
id: gate
namespace: company.team
tasks:
  - id: ask
    type: io.kestra.plugin.core.flow.Pause
"""


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_data_folder_and_database_files_are_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh" / "data"  # the server creates it
    server = Server(data_dir, tmp_path / "server.log")
    server.start()
    try:
        perch(data_dir, "flow", "deploy", str(write_flow(tmp_path, GATE)))
        assert _mode(data_dir) == 0o700
        files = sorted(p.name for p in data_dir.iterdir() if p.name.startswith("perch.db"))
        assert "perch.db" in files
        assert "perch.db-wal" in files
        for name in files:
            assert _mode(data_dir / name) == 0o600, name
    finally:
        assert server.stop() == 0


def test_the_cli_creates_a_private_data_folder(tmp_path: Path) -> None:
    data_dir = tmp_path / "cli-data"
    perch(data_dir, "flow", "deploy", str(write_flow(tmp_path, GATE)))
    assert _mode(data_dir) == 0o700
    assert _mode(data_dir / "perch.db") == 0o600


def test_a_kill_line_is_checked_against_the_database(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    perch(data_dir, "flow", "deploy", str(write_flow(tmp_path, GATE)))
    store = open_store(None, data_dir=data_dir)
    try:
        check = being_killed(store)
        started = service.create_execution(
            store, "main", "company.team", "gate", {}, Principal("carol")
        )
        assert not check("no-such-execution")
        assert not check(started.id)  # created, not being killed: a forged kill cancels nothing
        service.kill(store, started.id, Principal("carol"))
        assert check(started.id)
    finally:
        store.close()
