"""The triggers of flows, as the API shows and changes them: list and search, disable and
enable, and the backfill of a Schedule trigger (start, pause, resume, delete).

A trigger's row (:class:`perch.engine.ports.TriggerRow`) is written with the flow; these
functions change only what the flow's source does not say: ``disabled`` through the API, and
the backfill. Reading needs FLOW:READ on the flow's namespace, changing FLOW:UPDATE.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from perch.engine.access import allowed, denial, readable
from perch.engine.context import context_for, reading
from perch.engine.ports import Store, TriggerRow
from perch.engine.principal import Principal
from perch.engine.schedules import first_date, schedule_of, zone_of
from perch.engine.wakeup import SCHEDULES
from perch.engine.written import unit
from perch.errors import BadRequest, NotFound, PerchError
from perch.flows import Flow
from perch.flows.cron import next_fire
from perch.flows.triggers import Trigger
from perch.permissions import Action, Resource

TriggerKey = tuple[str, str, str, str]
"""(tenant, namespace, flowId, triggerId)."""


class TriggerNotFound(NotFound):
    """No such trigger (or flow)."""


@dataclass(frozen=True)
class TriggerView:
    """A trigger's stored state and its definition in the flow (None when the flow no longer
    parses or holds it)."""

    row: TriggerRow
    definition: Trigger | None


def _definition(store: Store, row: TriggerRow) -> Trigger | None:
    ctx = context_for(store)
    try:
        with reading(store) as tx:
            flow = ctx.flow(tx, row.tenant, row.namespace, row.flow_id, row.flow_revision)
    except PerchError:
        return None
    return next((t for t in flow.triggers or [] if t.id == row.trigger_id), None)


def search_triggers(  # noqa: PLR0917 - the search's filters
    store: Store,
    principal: Principal,
    tenant: str,
    namespace: str | None = None,
    flow_id: str | None = None,
    text: str | None = None,
) -> list[TriggerView]:
    """The triggers the principal may read, under ``namespace`` (a prefix), of ``flow_id``,
    with ``text`` in their flow or trigger id."""
    with reading(store) as tx:
        rows = tx.list_triggers(tenant)
    found = []
    for row in rows:
        if namespace and not (
            row.namespace == namespace or row.namespace.startswith(namespace + ".")
        ):
            continue
        if flow_id and row.flow_id != flow_id:
            continue
        if text and text.lower() not in f"{row.namespace}.{row.flow_id}.{row.trigger_id}".lower():
            continue
        if readable(principal, Resource.FLOW, row.namespace):
            found.append(TriggerView(row, _definition(store, row)))
    return found


def trigger_row(
    store: Store, principal: Principal, key: TriggerKey, action: Action = Action.READ
) -> TriggerRow:
    """One trigger's row, for a principal who may ``action`` its flow (else a denial);
    :class:`TriggerNotFound` when it does not exist."""
    if not allowed(principal, Resource.FLOW, action, key[1]):
        raise denial(Resource.FLOW, action, key[1])
    with reading(store) as tx:
        row = tx.get_trigger(key)
    if row is None:
        raise TriggerNotFound(f"Trigger '{key[3]}' of flow '{key[1]}.{key[2]}' not found")
    return row


def _change(store: Store, principal: Principal, key: TriggerKey, change: Any) -> TriggerRow:
    """Apply ``change(row, flow) -> row`` under the row's lock; the row written."""
    namespace = key[1]
    if not allowed(principal, Resource.FLOW, Action.UPDATE, namespace):
        raise denial(Resource.FLOW, Action.UPDATE, namespace)
    ctx = context_for(store)
    with unit(store) as (tx, _):
        row = tx.get_trigger(key, for_update=True)
        if row is None:
            raise TriggerNotFound(f"Trigger '{key[3]}' of flow '{namespace}.{key[2]}' not found")
        flow = ctx.flow(tx, row.tenant, row.namespace, row.flow_id, row.flow_revision)
        changed: TriggerRow = change(row, flow)
        tx.update_trigger(changed)
    ctx.hub.notify([SCHEDULES])
    return changed


def set_disabled(store: Store, principal: Principal, key: TriggerKey, disabled: bool) -> TriggerRow:
    """Disable or enable a trigger. A Schedule enabled again with ``recoverMissedSchedules:
    NONE`` goes on from the present; with ``ALL`` or ``LAST`` the dates it missed are fired
    (all, or the last) as after a restart."""

    def change(row: TriggerRow, flow: Flow) -> TriggerRow:
        updated = replace(row, disabled=disabled)
        schedule = schedule_of(flow, row.trigger_id)
        enabling = row.disabled and not disabled
        if enabling and schedule is not None and schedule.recoverMissedSchedules == "NONE":
            now = context_for(store).clock.now()
            updated = replace(updated, next_date=first_date(schedule, now))
        return updated

    return _change(store, principal, key, change)


def set_many_disabled(
    store: Store, principal: Principal, keys: Sequence[TriggerKey], disabled: bool
) -> int:
    """:func:`set_disabled` for each; how many changed (unknown ones are skipped)."""
    count = 0
    for key in keys:
        try:
            set_disabled(store, principal, key, disabled)
        except TriggerNotFound:
            continue
        count += 1
    return count


def _date(value: Any, what: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"backfill {what} '{value}' is not a date and time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def start_backfill(
    store: Store, principal: Principal, key: TriggerKey, backfill: dict[str, Any]
) -> TriggerRow:
    """Start firing a Schedule trigger's dates from ``start`` to ``end`` (default: now), with
    its ``inputs`` and ``labels``; the regular schedule goes on where it was afterwards."""
    now = context_for(store).clock.now()
    start = _date(backfill.get("start"), "start")
    end = _date(backfill["end"], "end") if backfill.get("end") else now
    if end <= start:
        raise BadRequest("backfill end must be after its start")
    if start > now:
        raise BadRequest("a backfill replays the past: its start must not be in the future")
    inputs = backfill.get("inputs") or {}
    labels = backfill.get("labels") or {}
    if isinstance(labels, list):
        labels = {str(i.get("key")): str(i.get("value")) for i in labels if isinstance(i, dict)}
    if not isinstance(inputs, dict) or not isinstance(labels, dict):
        raise BadRequest("backfill inputs and labels are maps")

    def change(row: TriggerRow, flow: Flow) -> TriggerRow:
        schedule = schedule_of(flow, row.trigger_id)
        if schedule is None:
            raise BadRequest(f"Trigger '{row.trigger_id}' is not a Schedule: nothing to backfill")
        if row.backfill is not None:
            raise BadRequest(f"Trigger '{row.trigger_id}' already has a backfill")
        zone = zone_of(schedule)
        first = next_fire(
            schedule.cron,
            (start - timedelta(microseconds=1)).astimezone(zone),
            with_seconds=schedule.withSeconds,
        )
        if first is None or first > end:
            raise BadRequest("the schedule has no date between the backfill's start and end")
        state = {
            "start": start.isoformat(),
            "end": end.isoformat(),
            "currentDate": first.astimezone(UTC).isoformat(),
            "inputs": inputs,
            "labels": labels,
            "paused": False,
            "previousNextExecutionDate": None
            if row.next_date is None
            else row.next_date.isoformat(),
        }
        return replace(row, backfill=state, next_date=now)

    return _change(store, principal, key, change)


def backfill_action(store: Store, principal: Principal, key: TriggerKey, action: str) -> TriggerRow:
    """``pause``, ``unpause`` or ``delete`` the trigger's backfill (400 when it has none)."""
    now = context_for(store).clock.now()

    def change(row: TriggerRow, flow: Flow) -> TriggerRow:
        if row.backfill is None:
            raise BadRequest("No backfill found")
        backfill = dict(row.backfill)
        regular = backfill.get("previousNextExecutionDate")
        regular_date = datetime.fromisoformat(str(regular)) if regular else None
        if action == "delete":
            schedule = schedule_of(flow, row.trigger_id)
            resume = regular_date or (first_date(schedule, now) if schedule else None)
            return replace(row, backfill=None, next_date=resume)
        if action == "pause":
            backfill["paused"] = True
            return replace(row, backfill=backfill, next_date=regular_date)
        backfill["paused"] = False
        backfill["previousNextExecutionDate"] = (
            None if row.next_date is None else row.next_date.isoformat()
        )
        return replace(row, backfill=backfill, next_date=now)

    return _change(store, principal, key, change)
