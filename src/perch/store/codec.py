"""Executions and events to compact JSON text and back.

This is on the hot path (every transition reads and writes one execution document), so it is
hand-written: plain dicts, the stdlib ``json`` module, keys left out when they hold their default.
Datetimes are ISO-8601 strings with their zone; states are their names. ``Execution.version`` is
not part of the document: it lives in its own column, which the compare-and-set checks.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any, get_args

from perch.engine.events import Event
from perch.engine.model import JSON, Attempt, Execution, Label, ParentRef, TaskRun
from perch.engine.principal import Principal, PrincipalKind
from perch.engine.states import State, StateHistory, StateType
from perch.store.sealing import SEALED, Sealer, opener, seal_tree

_parse_date = datetime.fromisoformat


def _default(value: Any) -> Any:
    # Read-only mappings and tuples can reach the encoder inside outputs; dates should not, but
    # writing them as ISO text is better than failing a transition.
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON-serializable")


_encoder = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), default=_default, check_circular=False
)
dumps: Callable[[Any], str] = _encoder.encode
"""Compact JSON text of a JSON-able value (mappings and tuples accepted)."""


def _no_number(_name: str) -> None:
    # NaN and infinities are refused at every entrance (perch.inputs.strictjson), but a database
    # written before that may hold one: read back as null, so the execution still shows (it
    # made every executions page answer 500).
    return None


loads: Callable[[str], Any] = json.JSONDecoder(parse_constant=_no_number).decode


def canonical_json(value: Any) -> str:
    """The canonical JSON text of a value: sorted keys, no spaces (what audit hashes cover)."""
    return json.dumps(
        value, ensure_ascii=False, separators=(",", ":"), sort_keys=True, default=_default
    )


# --- states ---------------------------------------------------------------------------------

# A dict lookup is several times faster than calling the enum.
_STATE_TYPES: dict[str, StateType] = {s.value: s for s in StateType}


def _encode_state(state: State) -> list[Any]:
    # StateType is a str: the JSON encoder writes its name without a .value lookup.
    return [state.current, [[h.state, h.date.isoformat()] for h in state.histories]]


def _decode_state(raw: list[Any]) -> State:
    types = _STATE_TYPES
    return State(
        types[raw[0]],
        tuple([StateHistory(types[s], _parse_date(d)) for s, d in raw[1]]),
    )


# --- task runs ------------------------------------------------------------------------------


def _encode_task_run(run: TaskRun, sealer: Sealer | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {"id": run.id, "task": run.task_id, "state": _encode_state(run.state)}
    if run.parent_task_run_id is not None:
        doc["parent"] = run.parent_task_run_id
    if run.value is not None:
        doc["value"] = seal_tree(run.value, sealer)
    if run.iteration is not None:
        doc["iteration"] = run.iteration
    if run.attempts:
        doc["attempts"] = [
            [_encode_state(a.state), a.worker_id]
            if a.worker_id is not None
            else [_encode_state(a.state)]
            for a in run.attempts
        ]
    if run.outputs is not None:
        doc["outputs"] = seal_tree(run.outputs, sealer)
    return doc


def _decode_task_run(doc: dict[str, Any]) -> TaskRun:
    attempts = doc.get("attempts")
    return TaskRun(
        id=doc["id"],
        task_id=doc["task"],
        state=_decode_state(doc["state"]),
        parent_task_run_id=doc.get("parent"),
        value=doc.get("value"),
        iteration=doc.get("iteration"),
        attempts=tuple(
            [Attempt(_decode_state(a[0]), a[1] if len(a) > 1 else None) for a in attempts]
        )
        if attempts
        else (),
        outputs=doc.get("outputs"),
    )


class _TaskRunTexts:
    """Encoded task runs, reused while the engine hands back the very same TaskRun object.

    A transition changes one or two task runs of an execution and keeps the other objects as
    they were, so most of a document's text can be reused. An entry is only valid for the object
    it was made from (checked by identity, and held so the identity cannot be recycled).
    """

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._entries: dict[str, tuple[TaskRun, Sealer | None, str]] = {}

    def text(self, run: TaskRun, sealer: Sealer | None) -> str:
        hit = self._entries.get(run.id)
        if hit is not None and hit[0] is run and hit[1] is sealer:
            return hit[2]
        text = dumps(_encode_task_run(run, sealer))
        if len(self._entries) >= self._limit:
            self._entries.clear()
        self._entries[run.id] = (run, sealer, text)
        return text


_task_run_texts = _TaskRunTexts(limit=200_000)
"""Room for the task runs of the largest executions in use (a ForEach of 20,000 values and
more): when it fills up, every document is encoded again from scratch."""


class _CleanValues:
    """Metadata values known to hold no secret, by identity: a ForEach keeps its 20,000 values
    in the metadata, and looking through them at every write of the document costs more than
    the rest of the write. The engine never changes a metadata value in place (it replaces it),
    and an entry holds its object, so an identity is never recycled while it is here."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._clean: dict[int, Any] = {}

    def sealed(self, value: Any, sealer: Sealer | None) -> Any:
        if not isinstance(value, Mapping | list):
            return seal_tree(value, sealer)
        if self._clean.get(id(value)) is value:
            return value
        result = seal_tree(value, sealer)
        if result is value:
            if len(self._clean) >= self._limit:
                self._clean.clear()
            self._clean[id(value)] = value
        return result


_clean_metadata = _CleanValues(limit=4096)


# --- executions -----------------------------------------------------------------------------


def execution_to_dict(execution: Execution, sealer: Sealer | None = None) -> dict[str, Any]:
    """The execution as a JSON-able dict (without its version), its secrets sealed by
    ``sealer`` (see :mod:`perch.store.sealing`; without one, a secret cannot be encoded)."""
    return _to_dict(execution, with_runs=True, sealer=sealer)


def _to_dict(
    execution: Execution, *, with_runs: bool, sealer: Sealer | None, with_metadata: bool = True
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": execution.id,
        "tenant": execution.tenant,
        "namespace": execution.namespace,
        "flow": execution.flow_id,
        "revision": execution.flow_revision,
        "state": _encode_state(execution.state),
    }
    if with_runs and execution.task_runs:
        doc["taskRuns"] = [_encode_task_run(r, sealer) for r in execution.task_runs]
    if execution.inputs:
        doc["inputs"] = seal_tree(execution.inputs, sealer)
    if execution.outputs is not None:
        doc["outputs"] = seal_tree(execution.outputs, sealer)
    if execution.labels:
        doc["labels"] = [[label.key, label.value] for label in execution.labels]
    if execution.variables is not None:
        doc["variables"] = seal_tree(execution.variables, sealer)
    if execution.trigger is not None:
        doc["trigger"] = seal_tree(execution.trigger, sealer)
    if execution.parent is not None:
        p = execution.parent
        doc["parent"] = [p.execution_id, p.task_run_id, p.namespace, p.flow_id]
    if execution.original_id is not None:
        doc["originalId"] = execution.original_id
    if with_metadata and execution.metadata:
        doc["metadata"] = {
            key: _clean_metadata.sealed(value, sealer) for key, value in execution.metadata.items()
        }
    return doc


class _MetadataTexts:
    """Encoded metadata values, by identity (as :class:`_CleanValues`): a ForEach's 20,000 values
    are encoded once, not at every write of the document."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._entries: dict[int, tuple[Any, Sealer | None, str]] = {}

    def text(self, value: Any, sealer: Sealer | None) -> str:
        if not _large(value):
            return dumps(_clean_metadata.sealed(value, sealer))
        hit = self._entries.get(id(value))
        if hit is not None and hit[0] is value and hit[1] is sealer:
            return hit[2]
        text = dumps(_clean_metadata.sealed(value, sealer))
        if len(self._entries) >= self._limit:
            self._entries.clear()
        self._entries[id(value)] = (value, sealer, text)
        return text


_metadata_texts = _MetadataTexts(limit=4096)


def _large(value: Any) -> bool:
    """Whether a metadata value holds a long list or map (at its top or one level down)."""
    if not isinstance(value, Mapping | list | tuple):
        return False
    if len(value) >= 64:
        return True
    items = value.values() if isinstance(value, Mapping) else value
    return any(isinstance(item, Mapping | list | tuple) and len(item) >= 64 for item in items)


def _head(execution: Execution, sealer: Sealer | None) -> str:
    """The document without its task runs, as JSON text ending in ``}``."""
    head = dumps(_to_dict(execution, with_runs=False, sealer=sealer, with_metadata=False))
    if not execution.metadata:
        return head
    entries = ",".join(
        f"{dumps(key)}:{_metadata_texts.text(value, sealer)}"
        for key, value in execution.metadata.items()
    )
    return f'{head[:-1]},"metadata":{{{entries}}}}}'


def execution_from_dict(doc: dict[str, Any], version: int) -> Execution:
    """The inverse of :func:`execution_to_dict`, with the version read from its column."""
    parent = doc.get("parent")
    return Execution(
        id=doc["id"],
        namespace=doc["namespace"],
        flow_id=doc["flow"],
        flow_revision=doc["revision"],
        state=_decode_state(doc["state"]),
        tenant=doc["tenant"],
        task_runs=tuple(_decode_task_run(r) for r in doc.get("taskRuns", ())),
        inputs=doc.get("inputs", {}),
        outputs=doc.get("outputs"),
        labels=tuple(Label(k, v) for k, v in doc.get("labels", ())),
        variables=doc.get("variables"),
        trigger=doc.get("trigger"),
        parent=ParentRef(*parent) if parent is not None else None,
        original_id=doc.get("originalId"),
        metadata=doc.get("metadata", {}),
        version=version,
    )


def encode_execution(execution: Execution, sealer: Sealer | None = None) -> str:
    """The execution document as compact JSON text (what :func:`execution_to_dict` gives)."""
    if not execution.task_runs:
        return dumps(execution_to_dict(execution, sealer))
    head = _head(execution, sealer)
    runs = ",".join([_task_run_texts.text(run, sealer) for run in execution.task_runs])
    return f'{head[:-1]},"taskRuns":[{runs}]}}'


CHUNKS_KEY = "taskRunChunks"
"""The document key of an execution whose task runs are stored in chunks (their count)."""


def encode_head(execution: Execution, chunks: int, sealer: Sealer | None = None) -> str:
    """The document of an execution whose task runs are kept in ``chunks`` chunks."""
    head = _head(execution, sealer)
    return f'{head[:-1]},"{CHUNKS_KEY}":{chunks}}}'


def encode_runs(runs: Sequence[TaskRun], sealer: Sealer | None = None) -> str:
    """Task runs as a JSON list (one chunk)."""
    return "[" + ",".join([_task_run_texts.text(run, sealer) for run in runs]) + "]"


_SEALED_KEY = dumps(SEALED)


def load_sealed(text: str, sealer: Sealer | None) -> Any:
    """``loads``, turning sealed secrets back into ``Secret`` values (the object hook slows
    decoding down, so it only runs on a document that has one)."""
    if _SEALED_KEY in text:
        return json.loads(text, object_hook=opener(sealer), parse_constant=_no_number)
    return loads(text)


def decode_execution(text: str, version: int, sealer: Sealer | None = None) -> Execution:
    """An execution from its JSON text and the version column."""
    return execution_from_dict(load_sealed(text, sealer), version)


def labels_map(execution: Execution) -> dict[str, str]:
    """The labels as a key → value object for the filterable ``labels`` column (last one wins)."""
    return {label.key: label.value for label in execution.labels}


# --- events ---------------------------------------------------------------------------------

_EVENT_CLASSES: dict[str, type[Any]] = {cls.__name__: cls for cls in get_args(Event)}

# Fields that are not plain JSON, by name (the same name has the same type in every event).
_STATE_FIELDS = frozenset({"state", "to_state", "child_state"})


def encode_event(event: Event, sealer: Sealer | None = None) -> str:
    """An event as JSON text: ``{"type": <class name>, <field>: <value>, ...}``."""
    doc: dict[str, JSON] = {"type": type(event).__name__}
    for f in fields(event):
        value = getattr(event, f.name)
        if isinstance(value, Principal):
            value = {"name": value.name, "kind": value.kind.value}
        elif isinstance(value, StateType):
            value = value.value
        else:
            value = seal_tree(value, sealer)
        doc[f.name] = value
    return dumps(doc)


def decode_event(text: str, sealer: Sealer | None = None) -> Event:
    """The inverse of :func:`encode_event`."""
    doc = load_sealed(text, sealer)
    cls = _EVENT_CLASSES[doc.pop("type")]
    for name, value in doc.items():
        if name == "principal":
            doc[name] = Principal(value["name"], PrincipalKind(value["kind"]))
        elif name in _STATE_FIELDS and value is not None:
            doc[name] = StateType(value)
    event: Event = cls(**doc)
    return event
