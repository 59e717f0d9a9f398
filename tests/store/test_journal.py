"""Logs, and the hash-chained audit trail."""

from __future__ import annotations

from datetime import timedelta

import pytest

from perch.engine.effects import Audit
from perch.engine.model import LogEntry
from perch.engine.principal import SYSTEM, Principal, PrincipalKind
from perch.store import SqlStore
from perch.store.journal import levels_at_least
from tests.store.samples import T0


def _log(n: int, level: str, task_id: str | None, execution_id: str = "e1") -> LogEntry:
    return LogEntry(
        execution_id=execution_id,
        timestamp=T0 + timedelta(seconds=n),
        level=level,
        message=f"line {n} ✓",
        task_run_id=f"tr-{task_id}" if task_id else None,
        task_id=task_id,
        attempt=1 if task_id else 0,
    )


def test_logs_filters(store: SqlStore) -> None:
    entries = [
        _log(3, "ERROR", "b"),
        _log(1, "DEBUG", "a"),
        _log(2, "WARN", "a"),
        _log(4, "INFO", None),
        _log(5, "INFO", "a", execution_id="e2"),
    ]
    with store.transaction() as tx:
        tx.add_logs(entries)
        tx.add_logs([])
    with store.transaction(readonly=True) as tx:
        every = tx.get_logs("e1")
        warn = tx.get_logs("e1", min_level="WARNING")
        of_a = tx.get_logs("e1", task_id="a")
        info_a = tx.get_logs("e1", min_level="info", task_id="a")
    assert every == [entries[1], entries[2], entries[0], entries[3]]
    assert [e.level for e in warn] == ["WARN", "ERROR"]
    assert [e.message for e in of_a] == ["line 1 ✓", "line 2 ✓"]
    assert [e.level for e in info_a] == ["WARN"]


def test_unknown_log_level_is_refused() -> None:
    assert levels_at_least("error") == ("ERROR",)
    with pytest.raises(ValueError, match="unknown log level"):
        levels_at_least("LOUD")


def _audit(store: SqlStore, count: int) -> None:
    ana = Principal("ana", PrincipalKind.USER)
    for n in range(count):
        with store.transaction() as tx:
            tx.add_audit(
                f"e{n}",
                Audit("RESUME", ana, {"inputs": {"approved": True, "n": n}, "tuple": (1, 2)}),
                T0 + timedelta(microseconds=n),
            )
            tx.add_audit(None, Audit("FLOW_SAVED", SYSTEM), T0)


def test_audit_chain_verifies(store: SqlStore) -> None:
    assert store.verify_audit_chain().ok
    _audit(store, 3)
    check = store.verify_audit_chain()
    assert check.ok
    assert check.records == 6


@pytest.mark.parametrize(
    "tamper",
    [
        "UPDATE audit SET principal_name = 'bob' WHERE seq = 3",
        "UPDATE audit SET detail = '{}' WHERE seq = 1",
        "UPDATE audit SET at = at + INTERVAL '1 second' WHERE seq = 5",
        "DELETE FROM audit WHERE seq = 2",
    ],
)
def test_audit_chain_detects_tampering(store: SqlStore, tamper: str) -> None:
    _audit(store, 3)
    if store.dialect == "sqlite":
        tamper = tamper.replace("at + INTERVAL '1 second'", "datetime(at, '+1 second')")
    with store.transaction() as tx:
        tx.connection.exec_driver_sql(tamper)
    check = store.verify_audit_chain()
    assert not check.ok
    assert check.broken_at in {1, 2, 3, 5}
