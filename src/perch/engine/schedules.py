"""Schedule triggers: start an execution at every date the trigger's cron expression matches.

Each Schedule trigger has a row (:class:`perch.engine.ports.TriggerRow`) holding the next date
to fire. The loop claims the due rows (``SKIP LOCKED``: two schedulers never take the same
one), creates the execution and moves the row to its next date in one transaction, so each
date fires exactly once, across restarts and with any number of scheduler processes. It
sleeps until the next due date, or until a deploy wakes the ``schedules`` channel.

Dates missed while no scheduler ran follow ``recoverMissedSchedules``: ``ALL`` (the default)
fires each missed date in order, ``LAST`` only the most recent one, ``NONE`` none of them. A
date later than ``lateMaximumDelay`` is skipped whatever the setting. A backfill (started
through the trigger API) fires the dates of a past range first, then the schedule goes on from
the present.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from perch.durations import parse_duration
from perch.engine.conditions import schedule_conditions_hold
from perch.engine.context import EngineContext, context_for, reading, retryable
from perch.engine.creation import new_execution
from perch.engine.executor import MAX_RETRIES, start_in
from perch.engine.loops import BackgroundLoop
from perch.engine.model import Label, LogEntry
from perch.engine.ports import Store, Transaction, TriggerRow
from perch.engine.principal import SYSTEM
from perch.engine.states import StateType
from perch.engine.wakeup import SCHEDULES
from perch.engine.written import Written, unit
from perch.errors import PerchError
from perch.flows import Flow
from perch.flows.cron import next_fire, previous_fire
from perch.flows.triggers import Schedule
from perch.inputs import resolve_inputs
from perch.templating import default_environment

log = logging.getLogger(__name__)

SCHEDULE_TRIGGER = Schedule.type_names[0]
LONGEST_SLEEP = 3600.0
MISSED_AFTER = timedelta(minutes=1)
"""A date more than this far in the past when the scheduler reaches it was missed (no
scheduler was running then); one nearer is simply late."""
MOST_SKIPPED = 100_000
"""Dates stepped over at most when looking for the last missed one (``LAST``)."""


def zone_of(trigger: Schedule) -> ZoneInfo:
    try:
        return ZoneInfo(trigger.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise PerchError(f"Unknown time zone '{trigger.timezone}'") from exc


def first_date(trigger: Schedule, now: datetime) -> datetime | None:
    """The first date the trigger fires after ``now`` (UTC)."""
    try:
        zone = zone_of(trigger)
    except PerchError:
        return None
    found = next_fire(trigger.cron, now.astimezone(zone), with_seconds=trigger.withSeconds)
    return None if found is None else found.astimezone(UTC)


def trigger_rows(tenant: str, flow: Flow, revision: int, now: datetime) -> list[TriggerRow]:
    """The trigger rows of a flow revision just saved (a Schedule's with its first date)."""
    rows = []
    for trigger in flow.triggers or []:
        first = first_date(trigger, now) if isinstance(trigger, Schedule) else None
        rows.append(
            TriggerRow(
                tenant=tenant,
                namespace=flow.namespace,
                flow_id=flow.id,
                trigger_id=trigger.id,
                type=trigger.canonical_type,
                flow_revision=revision,
                next_date=first,
                updated=now,
            )
        )
    return rows


def schedule_of(flow: Flow, trigger_id: str) -> Schedule | None:
    for trigger in flow.triggers or []:
        if trigger.id == trigger_id and isinstance(trigger, Schedule):
            return trigger
    return None


class ScheduleLoop(BackgroundLoop):
    """One thread that fires due Schedule triggers."""

    channel = SCHEDULES
    thread_name = "perch-schedules"

    def __init__(self, store: Store, *, batch: int = 50) -> None:
        super().__init__(store, context_for(store), batch=batch)

    def step(self) -> float | None:
        while self.fire_due() == self._batch and not self._stop.is_set():
            pass
        return self.seconds_to_next()

    def seconds_to_next(self) -> float:
        with reading(self._store) as tx:
            due = tx.next_trigger_due((SCHEDULE_TRIGGER,))
        if due is None:
            return LONGEST_SLEEP
        wait = (due - self._ctx.clock.now()) / timedelta(seconds=1)
        return min(max(wait, 0.0), LONGEST_SLEEP)

    def fire_due(self) -> int:
        """Handle up to one batch of due triggers; how many were due."""
        for _ in range(MAX_RETRIES):
            try:
                with unit(self._store) as (tx, written):
                    now = self._ctx.clock.now()
                    rows = tx.due_triggers((SCHEDULE_TRIGGER,), now, self._batch)
                    for row in rows:
                        fire_one(tx, self._ctx, row, now, written)
            except Exception as exc:
                if not retryable(exc):
                    raise
                continue
            self._ctx.after_commit(written)
            return len(rows)
        return 0


def fire_one(
    tx: Transaction, ctx: EngineContext, row: TriggerRow, now: datetime, written: Written
) -> None:
    """Fire the due date of ``row`` (or skip it) and move the row to its next date."""
    try:
        flow = ctx.flow(tx, row.tenant, row.namespace, row.flow_id, row.flow_revision)
        trigger = schedule_of(flow, row.trigger_id)
        if trigger is None:
            raise PerchError(f"flow revision {row.flow_revision} has no such Schedule trigger")
        zone = zone_of(trigger)
    except PerchError as exc:
        log.warning("schedule %s/%s stopped: %s", row.flow_id, row.trigger_id, exc)
        tx.update_trigger(replace(row, next_date=None))
        return
    if row.backfill is not None and not row.backfill.get("paused"):
        _backfill_step(tx, ctx, row, flow, trigger, zone, now, written)
        return
    due = row.next_date or now
    fired = _choose(trigger, zone, due, now)
    execution_id = row.last_execution_id
    last = row.last_date
    if fired is not None and not (flow.disabled or trigger.disabled):
        started = start_scheduled(tx, ctx, row, flow, trigger, fired, written)
        if started is not None:
            execution_id, last = started, fired
    following = _after(trigger, zone, fired or due)
    while (
        following is not None
        and trigger.recoverMissedSchedules in ("NONE", "LAST")
        and (following < now - MISSED_AFTER)
    ):
        following = _after(trigger, zone, following)
    tx.update_trigger(
        replace(row, next_date=following, last_date=last, last_execution_id=execution_id)
    )


def _after(trigger: Schedule, zone: ZoneInfo, date: datetime) -> datetime | None:
    found = next_fire(trigger.cron, date.astimezone(zone), with_seconds=trigger.withSeconds)
    return None if found is None else found.astimezone(UTC)


def _choose(trigger: Schedule, zone: ZoneInfo, due: datetime, now: datetime) -> datetime | None:
    """The date to fire now for a row due at ``due``, or None to fire nothing."""
    lateness = now - due
    if trigger.lateMaximumDelay is not None and lateness > parse_duration(trigger.lateMaximumDelay):
        return None
    if lateness <= MISSED_AFTER:
        return due
    policy = trigger.recoverMissedSchedules or "ALL"
    if policy == "NONE":
        return None
    if policy == "LAST":
        latest = previous_fire(trigger.cron, now.astimezone(zone), with_seconds=trigger.withSeconds)
        return due if latest is None else max(due, latest.astimezone(UTC))
    return due


def _backfill_step(  # noqa: PLR0917 - internal
    tx: Transaction,
    ctx: EngineContext,
    row: TriggerRow,
    flow: Flow,
    trigger: Schedule,
    zone: ZoneInfo,
    now: datetime,
    written: Written,
) -> None:
    backfill = dict(row.backfill or {})
    current = datetime.fromisoformat(str(backfill["currentDate"]))
    end = datetime.fromisoformat(str(backfill["end"])) if backfill.get("end") else now
    if current <= min(end, now):
        labels = backfill.get("labels") or {}
        inputs = backfill.get("inputs") or None
        start_scheduled(
            tx,
            ctx,
            row,
            flow,
            trigger,
            current,
            written,
            inputs=inputs if isinstance(inputs, dict) else None,
            labels={**(labels if isinstance(labels, dict) else {}), "system.backfill": "true"},
        )
    following = _after(trigger, zone, current)
    if following is not None and following <= min(end, now):
        backfill["currentDate"] = following.isoformat()
        tx.update_trigger(replace(row, backfill=backfill, next_date=now))
        return
    # Done: the regular schedule goes on from the date it was at (missed dates recovered).
    regular = backfill.get("previousNextExecutionDate")
    resume = datetime.fromisoformat(str(regular)) if regular else first_date(trigger, now)
    tx.update_trigger(replace(row, backfill=None, next_date=resume))


def start_scheduled(  # noqa: PLR0917 - internal
    tx: Transaction,
    ctx: EngineContext,
    row: TriggerRow,
    flow: Flow,
    trigger: Schedule,
    date: datetime,
    written: Written,
    *,
    inputs: dict[str, Any] | None = None,
    labels: dict[str, Any] | None = None,
) -> str | None:
    """Create and start the execution of ``date``; its id (None when the trigger's
    conditions do not hold at that date)."""
    now = ctx.clock.now()
    zone = zone_of(trigger)
    local = date.astimezone(zone)
    following = next_fire(trigger.cron, local, with_seconds=trigger.withSeconds)
    before = previous_fire(trigger.cron, local, with_seconds=trigger.withSeconds)
    variables: dict[str, Any] = {
        "date": local.isoformat(),
        "next": None if following is None else following.isoformat(),
        "previous": None if before is None else before.isoformat(),
    }
    environment = default_environment()
    problem: str | None = None
    resolved: dict[str, Any] = {}
    try:
        render_vars = {"trigger": variables, "flow": {"id": flow.id, "namespace": flow.namespace}}
        if not schedule_conditions_hold(
            trigger, local, lambda text: environment.render_value(text, render_vars)
        ):
            return None
        given = environment.render_value({**(trigger.inputs or {}), **(inputs or {})}, render_vars)
        resolved = resolve_inputs(flow.inputs or [], dict(given), environment=environment)
    except PerchError as exc:
        problem = (
            f"Schedule trigger '{trigger.id}' could not start the execution of "
            f"{variables['date']}: {exc}"
        )
    merged = [Label(k, str(v)) for k, v in {**(trigger.labels or {}), **(labels or {})}.items()]
    execution = new_execution(
        flow,
        revision=row.flow_revision,
        inputs=resolved,
        now=now,
        principal=SYSTEM,
        labels=merged,
        trigger={"id": trigger.id, "type": trigger.canonical_type, "variables": variables},
    )
    if execution.tenant != row.tenant:
        execution = replace(execution, tenant=row.tenant)
    if problem is not None:
        failed = replace(execution, state=execution.state.with_state(StateType.FAILED, now))
        written.insert(failed)
        written.add_logs([LogEntry(failed.id, now, "ERROR", problem)])
        return failed.id
    written.insert(execution)
    start_in(tx, ctx, execution, written)
    return execution.id
