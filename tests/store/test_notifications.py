"""PostgreSQL LISTEN/NOTIFY between stores on one database."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from perch.store import SqlStore, open_store


@pytest.mark.postgres
def test_a_notify_is_delivered_on_commit_only(postgres_schema: tuple[str, str]) -> None:
    url, schema = postgres_schema
    sender, receiver = open_store(url, schema=schema), open_store(url, schema=schema)
    try:
        with receiver.listen(["jobs", "timers"]) as listener:
            assert listener.wait(timeout=0.05) == []

            def notify_then_fail() -> None:
                with sender.transaction() as tx:
                    tx.notify("jobs", "rolled back")
                    raise RuntimeError

            with pytest.raises(RuntimeError):
                notify_then_fail()
            with sender.transaction() as tx:
                tx.notify("jobs", "one")
                tx.notify("timers")
            sender.notify("other")  # not listened to
            start = time.monotonic()
            got = listener.wait(timeout=5)
            while len(got) < 2 and time.monotonic() - start < 5:
                got += listener.wait(timeout=1)
        assert got == [("jobs", "one"), ("timers", "")]
    finally:
        sender.close()
        receiver.close()


def test_channel_names_are_identifiers(store: SqlStore) -> None:
    with pytest.raises(ValueError, match="invalid notification channel"), store.transaction() as tx:
        tx.notify('jobs"; DROP TABLE jobs; --')


def test_sqlite_has_no_listen_and_notify_is_a_no_op(tmp_path: Path) -> None:
    store = open_store(data_dir=tmp_path)
    store.notify("jobs")
    with pytest.raises(NotImplementedError):
        store.listen(["jobs"])
    store.close()
