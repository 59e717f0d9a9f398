"""What the engine's loops and service functions share for one store.

An :class:`EngineContext` (clock, wake-up hub, template hooks, inline runner, parsed flow
revisions) is bound to each store (:func:`bind`, or a default one on first use); reading
transactions and the retry rule of every write (:func:`retryable`) live here too. Nothing here
applies events: that is :mod:`perch.engine.executor`.
"""

from __future__ import annotations

import random
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from typing import Any, Protocol

from perch.engine.clock import Clock, SystemClock
from perch.engine.model import Execution
from perch.engine.ports import Store, Transaction
from perch.engine.wakeup import JOBS, WakeHub
from perch.engine.written import Written
from perch.errors import ConcurrentUpdate, FlowNotFound
from perch.flows import Flow, parse_flow

MAX_RETRIES = 20
"""Compare-and-set retries of one apply before giving up (each reloads the execution)."""

_TRANSIENT_SQLSTATES = frozenset({"40001", "40P01"})  # serialization failure, deadlock


def retryable(exc: BaseException) -> bool:
    """Whether a failed transaction should be retried from a fresh read: a compare-and-set
    conflict, or a database that aborted one side of a lock cycle (PostgreSQL reports a
    deadlock when, say, a timer firing and a resume lock the same rows in opposite orders).
    After a database-level abort it also waits a moment, so the two sides do not collide again.
    """
    if isinstance(exc, ConcurrentUpdate):
        return True
    driver_error = getattr(exc, "orig", None)
    code = getattr(driver_error, "sqlstate", None) or getattr(driver_error, "pgcode", None)
    if code in _TRANSIENT_SQLSTATES:
        time.sleep(random.uniform(0.001, 0.02))
        return True
    return False


FLOW_CACHE_SIZE = 512


class InlineRuns(Protocol):
    """Runs dispatched tasks in the transaction that dispatched them
    (:class:`perch.engine.running.InlineRunner`)."""

    def run_dispatched(self, tx: Transaction, ctx: EngineContext, written: Written) -> None:
        """Run or turn into jobs every dispatch ``written`` holds (and those the runs make)."""
        ...


ScopedHooks = Callable[[str, str], Mapping[str, Callable[..., Any]]]
"""Template hooks that depend on where an execution runs: ``(tenant, namespace) -> hooks``
(``secret()`` reads the flow's namespace and its parents, never a template's say-so)."""

ExecutionHooks = Callable[[Execution], Mapping[str, Callable[..., Any]]]
"""Template hooks bound to one execution (``appLink()`` links to that execution's page)."""


class EngineContext:
    """What the loops and service functions share for one store: the clock, the wake-up hub,
    template hooks, the runner of inline tasks, and parsed flow revisions (a revision never
    changes, and parsing costs milliseconds, so each is parsed once).

    With ``inline``, the tasks it accepts run in the transaction of the transition that
    dispatched them instead of becoming jobs; without it every dispatch is a job."""

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        hub: WakeHub | None = None,
        hooks: Mapping[str, Callable[..., Any]] | None = None,
        inline: InlineRuns | None = None,
        scoped_hooks: ScopedHooks | None = None,
        execution_hooks: ExecutionHooks | None = None,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        self.hub = hub or WakeHub()
        self.hooks = hooks
        self.inline = inline
        self.scoped_hooks = scoped_hooks
        self.execution_hooks = execution_hooks
        self._flows: OrderedDict[tuple[str, str, str, int], Flow] = OrderedDict()
        self._lock = threading.Lock()

    def hooks_for(self, execution: Execution) -> Mapping[str, Callable[..., Any]]:
        """The template hooks of ``execution``: the scoped ones for its tenant and namespace
        and the ones bound to it, overridden by the shared ones (a test's)."""
        if self.scoped_hooks is None and self.execution_hooks is None:
            return self.hooks or {}
        return LazyHooks(lambda: self._build_hooks(execution))

    def _build_hooks(self, execution: Execution) -> Mapping[str, Callable[..., Any]]:
        scoped = (
            {}
            if self.scoped_hooks is None
            else self.scoped_hooks(execution.tenant, execution.namespace)
        )
        if self.execution_hooks is not None:
            scoped = {**scoped, **self.execution_hooks(execution)}
        return {**scoped, **self.hooks} if self.hooks else scoped

    def flow_for(self, tx: Transaction, execution: Execution) -> Flow:
        """The parsed flow revision the execution is pinned to."""
        return self.flow(
            tx, execution.tenant, execution.namespace, execution.flow_id, execution.flow_revision
        )

    def flow(
        self, tx: Transaction, tenant: str, namespace: str, flow_id: str, revision: int
    ) -> Flow:
        """A parsed flow revision, from the cache or the store."""
        key = (tenant, namespace, flow_id, revision)
        with self._lock:
            cached = self._flows.get(key)
            if cached is not None:
                self._flows.move_to_end(key)
                return cached
        stored = tx.get_flow(tenant, namespace, flow_id, revision)
        if stored is None:
            raise FlowNotFound(f"Flow '{namespace}.{flow_id}' revision {revision} not found")
        parsed = parse_flow(stored.source)
        self.remember(key, parsed)
        return parsed

    def remember(self, key: tuple[str, str, str, int], flow: Flow) -> None:
        with self._lock:
            self._flows[key] = flow
            while len(self._flows) > FLOW_CACHE_SIZE:
                self._flows.popitem(last=False)

    def after_commit(self, written: Written) -> None:
        """Wake the loops with new work, cancel the running tasks of killed executions and
        tell the change listeners (live following in the API) which executions were written."""
        if written.touched:
            self.hub.changed(written.touched)
        channels = written.channels - {JOBS}
        if channels:
            self.hub.notify(channels)
        if written.jobs > 0:
            # Wake as many workers as there are new jobs, not all of them: an idle worker that
            # wakes for nothing still pays for a claim query.
            self.hub.notify_some(JOBS, written.jobs)
        for execution_id in written.killed:
            self.hub.killed(execution_id)


class LazyHooks(Mapping[str, Callable[..., Any]]):
    """Template hooks built at their first use: most transitions and renderings call no
    function, and building an execution's hooks (its secrets, KV, files, states) costs more
    than the transition itself."""

    __slots__ = ("_build", "_built")

    def __init__(self, build: Callable[[], Mapping[str, Callable[..., Any]]]) -> None:
        self._build = build
        self._built: Mapping[str, Callable[..., Any]] | None = None

    def _hooks(self) -> Mapping[str, Callable[..., Any]]:
        if self._built is None:
            self._built = self._build()
        return self._built

    def __getitem__(self, name: str) -> Callable[..., Any]:
        return self._hooks()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._hooks())

    def __len__(self) -> int:
        return len(self._hooks())

    def __bool__(self) -> bool:
        # ``hooks or {}`` must not build them: an empty set of hooks behaves like none.
        return True


def reading(store: Store) -> AbstractContextManager[Transaction]:
    """A read-only transaction when the store offers one (SQLite readers then run alongside
    the single writer instead of queueing behind it)."""
    try:
        return store.transaction(readonly=True)  # type: ignore[call-arg]
    except TypeError:
        return store.transaction()


_contexts: weakref.WeakKeyDictionary[Any, EngineContext] = weakref.WeakKeyDictionary()
_contexts_lock = threading.Lock()


def store_hooks(store: Store) -> ScopedHooks:
    """The scoped hooks every context of ``store`` has: ``secret()`` from its secret store,
    ``kv()`` and the kv tasks' hooks from its KV store, the tasks' file hooks."""
    from perch.engine.filehooks import file_hooks
    from perch.engine.kvhooks import kv_hooks
    from perch.engine.secretlookup import secret_hooks

    secrets, pairs, files = secret_hooks(store), kv_hooks(store), file_hooks(store)

    def scoped(tenant: str, namespace: str) -> Mapping[str, Callable[..., Any]]:
        return {
            **pairs(tenant, namespace),
            **secrets(tenant, namespace),
            **files(tenant, namespace),
        }

    return scoped


def forget(store: Store) -> None:
    """Drop the context bound to ``store`` (its store is closing). The context's loops and
    hooks refer back to the store, so the weak-keyed map alone would keep both alive."""
    with _contexts_lock:
        _contexts.pop(store, None)


def context_for(store: Store) -> EngineContext:
    """The context bound to ``store`` (a default one, created on first use)."""
    with _contexts_lock:
        ctx = _contexts.get(store)
        if ctx is None:
            ctx = _contexts[store] = EngineContext(
                scoped_hooks=store_hooks(store), execution_hooks=_execution_hooks(store, None)
            )
        return ctx


def _execution_hooks(store: Store, extra: ExecutionHooks | None) -> ExecutionHooks:
    from perch.engine.executionhooks import engine_execution_hooks

    return engine_execution_hooks(store, extra)


def bind(
    store: Store,
    *,
    clock: Clock | None = None,
    hub: WakeHub | None = None,
    hooks: Mapping[str, Callable[..., Any]] | None = None,
    inline: InlineRuns | None = None,
    scoped_hooks: ScopedHooks | None = None,
    execution_hooks: ExecutionHooks | None = None,
) -> EngineContext:
    """Give ``store`` its own clock, hub, hooks and inline runner (the server and tests call
    this first)."""
    ctx = EngineContext(
        clock=clock,
        hub=hub,
        hooks=hooks,
        inline=inline,
        scoped_hooks=scoped_hooks or store_hooks(store),
        execution_hooks=_execution_hooks(store, execution_hooks),
    )
    with _contexts_lock:
        _contexts[store] = ctx
    return ctx
