"""Claims filtered by worker group, task type and namespace, in SQL; the worker registry."""

from __future__ import annotations

from datetime import timedelta

from perch.engine.jobfilter import JobFilter
from perch.engine.ports import Job, WorkerInfo
from perch.store import SqlStore
from tests.store.samples import T0

HTTP = "io.kestra.plugin.core.http.Request"
SHELL = "io.kestra.plugin.scripts.shell.Commands"
LEASE = T0 + timedelta(seconds=30)


def _job(n: int, group: str | None, task_type: str, namespace: str) -> Job:
    return Job(
        id=f"j{n}",
        execution_id=f"e{n}",
        task_run_id=f"tr{n}",
        task_id="t",
        attempt=1,
        created=T0 + timedelta(milliseconds=n),
        worker_group=group,
        task_type=task_type,
        namespace=namespace,
    )


JOBS = [
    _job(0, None, HTTP, "company.team"),
    _job(1, "gpu", SHELL, "company.team"),
    _job(2, None, SHELL, "company.team.sub"),
    _job(3, None, SHELL, "company_x"),
    _job(4, "gpu", HTTP, "other"),
    _job(5, None, "io.kestra.plugin.my_tasks.Do", "other"),
]


def _claim(store: SqlStore, worker: str, job_filter: JobFilter | None) -> list[str]:
    with store.transaction() as tx:
        return [j.id for j in tx.claim_jobs(worker, 10, T0, LEASE, job_filter)]


def test_each_worker_claims_only_what_its_filter_accepts(store: SqlStore) -> None:
    with store.transaction() as tx:
        tx.add_jobs(JOBS)
    assert _claim(store, "gpu-shell", JobFilter.of("gpu", ["io.kestra.plugin.scripts.*"])) == ["j1"]
    # A prefix covers the namespace and those below it; '_' is literal in both filters:
    # company_x is not under company, my_tasks matches only itself.
    assert _claim(store, "team", JobFilter.of(None, (), ["company"])) == ["j0", "j2"]
    assert _claim(store, "mine", JobFilter.of(None, ["io.kestra.plugin.my_tasks.*"])) == ["j5"]
    assert _claim(store, "default", JobFilter.of()) == ["j3"]
    assert _claim(store, "gpu", JobFilter.of("gpu")) == ["j4"]


def test_released_jobs_are_claimable_at_once(store: SqlStore) -> None:
    with store.transaction() as tx:
        tx.add_jobs(JOBS[:1])
    assert _claim(store, "w1", JobFilter.of()) == ["j0"]
    assert _claim(store, "w2", JobFilter.of()) == []
    with store.transaction() as tx:
        assert tx.release_jobs("w2", ["j0"]) == 0  # not w2's to give back
        assert tx.release_jobs("w1", ["j0"]) == 1
    assert _claim(store, "w2", JobFilter.of()) == ["j0"]


def test_the_registry_knows_live_groups_until_their_rows_expire(store: SqlStore) -> None:
    def worker(name: str, group: str | None, expires: int) -> WorkerInfo:
        return WorkerInfo(
            id=name,
            filter=JobFilter.of(group, ["io.kestra.*"], ["company"]),
            concurrency=3,
            hostname="host",
            pid=42,
            started=T0,
            heartbeat=T0,
            expires=T0 + timedelta(seconds=expires),
        )

    with store.transaction() as tx:
        tx.register_worker(worker("a", "gpu", 30))
        tx.register_worker(worker("b", None, 30))
        tx.register_worker(worker("c", "old", 5))
    later = T0 + timedelta(seconds=10)
    with store.transaction() as tx:
        assert tx.live_worker_groups(T0) == {"gpu", "old"}
        assert tx.live_worker_groups(later) == {"gpu"}
        listed = tx.list_workers(later)
        assert [w.id for w in listed] == ["a", "b"]
        assert listed[0].filter == JobFilter("gpu", ("io.kestra.*",), ("company",))
        assert tx.heartbeat_worker("a", later, later + timedelta(seconds=30))
        assert not tx.heartbeat_worker("gone", later, later)
        tx.remove_worker("a")
        assert tx.live_worker_groups(later) == frozenset()
