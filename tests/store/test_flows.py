"""Flow revisions, on both backends."""

from __future__ import annotations

from perch.engine.ports import StoredFlow
from perch.store import SqlStore

SOURCE = "id: hello\nnamespace: company.team   \n# a comment\ntasks:\n  - id: log\n"


def flow(source: str, flow_id: str = "hello", namespace: str = "company.team") -> StoredFlow:
    return StoredFlow(tenant="main", namespace=namespace, id=flow_id, revision=0, source=source)


def test_same_source_keeps_the_revision_and_a_change_adds_one(store: SqlStore) -> None:
    with store.transaction() as tx:
        first = tx.save_flow(flow(SOURCE))
        again = tx.save_flow(flow(SOURCE))
        changed = tx.save_flow(flow(SOURCE + "  - id: two\n"))
    assert (first.revision, again.revision, changed.revision) == (1, 1, 2)
    assert first.updated is not None
    assert first.updated.tzinfo is not None


def test_source_is_kept_byte_for_byte(store: SqlStore) -> None:
    source = "id: hello\r\nnamespace: x  \n\n# ünïcode ✓\t\n\n\n"
    with store.transaction() as tx:
        tx.save_flow(flow(source, namespace="x"))
    with store.transaction() as tx:
        stored = tx.get_flow("main", "x", "hello")
    assert stored is not None
    assert stored.source == source
    assert stored.revision == 1
    assert not stored.deleted


def test_delete_keeps_old_revisions_readable(store: SqlStore) -> None:
    with store.transaction() as tx:
        tx.save_flow(flow(SOURCE))
        tx.save_flow(flow(SOURCE + "# v2\n"))
        assert tx.delete_flow("main", "company.team", "hello") is True
        assert tx.delete_flow("main", "company.team", "hello") is False
    with store.transaction() as tx:
        assert tx.get_flow("main", "company.team", "hello") is None
        old = tx.get_flow("main", "company.team", "hello", revision=1)
        marker = tx.get_flow("main", "company.team", "hello", revision=3)
        assert tx.list_flows("main") == []
        recreated = tx.save_flow(flow(SOURCE))
    assert old is not None
    assert old.source == SOURCE
    assert not old.deleted
    assert marker is not None
    assert marker.deleted
    assert recreated.revision == 4


def test_unknown_flow_and_revision(store: SqlStore) -> None:
    with store.transaction() as tx:
        assert tx.get_flow("main", "company.team", "nope") is None
        tx.save_flow(flow(SOURCE))
        assert tx.get_flow("main", "company.team", "hello", revision=7) is None
        assert tx.delete_flow("main", "company.team", "nope") is False


def test_list_flows_returns_latest_revisions_under_a_namespace(store: SqlStore) -> None:
    with store.transaction() as tx:
        tx.save_flow(flow("a: 1\n", "a", "company.team"))
        tx.save_flow(flow("a: 2\n", "a", "company.team"))
        tx.save_flow(flow("b\n", "b", "company.team.sub"))
        tx.save_flow(flow("c\n", "c", "company.teamx"))
        tx.save_flow(flow("d\n", "d", "company_team"))
        tx.save_flow(StoredFlow("other", "company.team", "z", 0, "z\n"))
    with store.transaction() as tx:
        listed = tx.list_flows("main", "company.team")
        every = tx.list_flows("main")
        other = tx.list_flows("other")
    assert [(f.namespace, f.id, f.revision) for f in listed] == [
        ("company.team", "a", 2),
        ("company.team.sub", "b", 1),
    ]
    assert listed[0].source == "a: 2\n"
    assert len(every) == 4
    assert [f.id for f in other] == ["z"]
    # "_" is a LIKE wildcard: it must match itself only.
    with store.transaction() as tx:
        assert [f.id for f in tx.list_flows("main", "company_team")] == ["d"]


def test_list_flow_revisions_is_oldest_first_with_deletion_markers(store: SqlStore) -> None:
    with store.transaction() as tx:
        tx.save_flow(flow(SOURCE))
        tx.save_flow(flow(SOURCE + "# v2\n"))
        tx.save_flow(flow(SOURCE, flow_id="other"))
        tx.save_flow(StoredFlow("other-tenant", "company.team", "hello", 0, "x\n"))
        tx.delete_flow("main", "company.team", "hello")
        tx.save_flow(flow(SOURCE + "# v4\n"))
    with store.transaction() as tx:
        revisions = tx.list_flow_revisions("main", "company.team", "hello")
        none = tx.list_flow_revisions("main", "company.team", "nope")
    assert [(r.revision, r.deleted) for r in revisions] == [
        (1, False),
        (2, False),
        (3, True),
        (4, False),
    ]
    assert [r.source for r in revisions] == [
        SOURCE,
        SOURCE + "# v2\n",
        SOURCE + "# v2\n",
        SOURCE + "# v4\n",
    ]
    assert all(r.updated is not None for r in revisions)
    assert none == []
