"""Which commits must survive a power loss: acknowledged decisions and creates.

SQLite runs WAL with ``synchronous=NORMAL``: a commit survives ``kill -9`` but the last commits
may be lost if the machine loses power, because the WAL is not flushed to disk at each commit.
That is right for the engine's own steps (a lost step is redone from the state before it), not
for an answer a person or a client was given: a resume answered 204, a create answered with its
id. The service functions that answer those run their transactions inside :func:`durable`, and
the SQLite store commits them with ``synchronous=FULL`` (the WAL is flushed at that commit,
and with it every commit before). PostgreSQL keeps ``synchronous_commit=on`` for everything.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")
_DURABLE: ContextVar[bool] = ContextVar("perch_durable_commit", default=False)


@contextmanager
def durable() -> Iterator[None]:
    """Commit the transactions opened in this block so that they survive a power loss."""
    token = _DURABLE.set(True)
    try:
        yield
    finally:
        _DURABLE.reset(token)


def wants_durable() -> bool:
    """Whether the transaction being opened must survive a power loss."""
    return _DURABLE.get()


def durable_commits(function: Callable[P, R]) -> Callable[P, R]:
    """``function`` with every transaction it opens committed by :func:`durable`."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with durable():
            return function(*args, **kwargs)

    return wrapper
