"""``secret('NAME')`` for a flow: the namespace store first, then the environment.

A flow of ``company.team`` reads the secret ``NAME`` of ``company.team``, else of ``company``,
else the environment variable ``SECRET_NAME``, whose value is base64 (Kestra's open-source
convention). Only ``SECRET_*`` variables are read, one name at a time: the server's environment
is never handed to flows as a whole. The namespace is the execution's, given by the engine
(:meth:`perch.engine.context.EngineContext.hooks_for`), never by the template.

What is resolved is a :class:`~perch.templating.taint.Secret`, so every value rendered from it is
masked wherever it is shown. Management (set, list, delete) is
:mod:`perch.engine.service.secretstore`.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import weakref
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any, Final, Protocol, cast

from perch.engine.ports import Store, Transaction
from perch.errors import SecretError, SecretUnavailable
from perch.templating.taint import Secret

ENV_PREFIX: Final = "SECRET_"
"""Environment variables holding secrets (base64) start with this."""

KEY_PATTERN: Final = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}$")
"""A secret's key: what ``secret()`` looks up and the store accepts."""


class SecretLookup(Transaction, Protocol):
    """The one secret read the engine needs from a transaction."""

    def find_secret(self, tenant: str, namespaces: list[str], key: str) -> tuple[str, str] | None:
        """``(namespace, value)`` of ``key`` in the first of ``namespaces`` holding it."""
        ...


def lineage(namespace: str) -> list[str]:
    """``company.team.ops`` → ``["company.team.ops", "company.team", "company"]``."""
    parts = namespace.split(".")
    return [".".join(parts[:size]) for size in range(len(parts), 0, -1)]


def from_environment(key: str, environ: Mapping[str, str] | None = None) -> Secret | None:
    """The secret ``key`` from ``SECRET_<key>`` (base64; the name compared in upper case, as
    Kestra does), or None when no such variable is set."""
    env = os.environ if environ is None else environ
    name = ENV_PREFIX + key
    if name not in env:
        # Kestra compares names in upper case: SECRET_Api_Key answers secret('api_key').
        wanted = key.upper()
        cut = len(ENV_PREFIX)
        found = [n for n in env if n.startswith(ENV_PREFIX) and n[cut:].upper() == wanted]
        if not found:
            return None
        name = min(found)
    try:
        text = base64.b64decode(env[name].strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError) as exc:
        raise SecretUnavailable(
            f"Secret '{key}': the environment variable {name} is not valid base64"
        ) from exc
    return Secret(text)


def _reading(store: Store) -> AbstractContextManager[Transaction]:
    try:
        return store.transaction(readonly=True)  # type: ignore[call-arg]
    except TypeError:
        return store.transaction()


def resolve_secret(store: Store, tenant: str, namespace: str, key: str) -> Secret:
    """The value ``secret(key)`` gives a flow of ``namespace``: the nearest namespace holding
    it, then ``SECRET_<key>``; :class:`~perch.errors.SecretUnavailable` when neither does."""
    if not isinstance(key, str) or not key:
        raise SecretUnavailable("secret() needs the name of a secret")
    if KEY_PATTERN.match(key):
        try:
            with _reading(store) as raw:
                found = cast(SecretLookup, raw).find_secret(tenant, lineage(namespace), key)
        except SecretError as exc:
            # A value that does not decrypt fails the task like a missing one (as a template
            # error, which the task reports), naming the secret only.
            raise SecretUnavailable(str(exc)) from exc
        if found is not None:
            return Secret(found[1])
    from_env = from_environment(key)
    if from_env is not None:
        return from_env
    raise SecretUnavailable(
        f"Cannot find secret '{key}' in namespace {namespace} or its parents, "
        f"nor in the environment ({ENV_PREFIX}{key.upper()})"
    )


def secret_hooks(store: Store) -> Callable[[str, str], Mapping[str, Callable[..., Any]]]:
    """The template hooks that depend on where an execution runs: ``secret`` for a flow of
    ``namespace`` in ``tenant`` (the engine asks for them per execution)."""
    # The engine keeps its contexts in a weak map keyed by the store: a strong reference from
    # a context back to its store would keep both alive for ever.
    held = weakref.ref(store)

    def scoped(tenant: str, namespace: str) -> Mapping[str, Callable[..., Any]]:
        def secret(key: str) -> Secret:
            current = held()
            if current is None:
                raise SecretUnavailable(f"Secret '{key}': the store is closed")
            return resolve_secret(current, tenant, namespace, key)

        return {"secret": secret}

    return scoped
