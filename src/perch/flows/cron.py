"""Checking cron expressions the way Kestra's Schedule trigger reads them.

Kestra accepts five fields (minute to day-of-week), six with ``withSeconds: true`` (seconds
first), the nicknames ``@hourly`` … ``@yearly``, and Quartz-style ``?`` and ``W`` marks. Perch
checks the syntax with cronsim after translating those forms into what cronsim reads.
"""

from __future__ import annotations

import re
from datetime import datetime

from cronsim import CronSim, CronSimError

NICKNAMES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

_WEEKDAY_MARK = re.compile(r"(\d+|L)W")
_REFERENCE = datetime(2000, 1, 1)


def _check_five(fields: list[str]) -> str | None:
    minute, hour, dom, month, dow = fields
    dom = _WEEKDAY_MARK.sub(r"\1", dom).replace("?", "*")
    dow = dow.replace("?", "*")
    try:
        CronSim(" ".join([minute, hour, dom, month, dow]), _REFERENCE)
    except CronSimError as exc:
        return str(exc)
    return None


def cron_problem(expression: str, *, with_seconds: bool = False) -> str | None:
    """Why ``expression`` is not a valid cron expression, or ``None`` if it is valid."""
    text = expression.strip()
    if text.startswith("@"):
        if text in NICKNAMES:
            return None
        names = ", ".join(NICKNAMES)
        return f"'{expression}' is not a known cron nickname (use one of {names})"
    fields = text.split()
    expected = 6 if with_seconds else 5
    if len(fields) != expected:
        names = ("second " if with_seconds else "") + "minute hour day-of-month month day-of-week"
        if not with_seconds and len(fields) == 6:
            hint = "; set withSeconds: true to use a seconds field"
        else:
            hint = ", such as '0 9 * * *' (every day at 9:00) or a nickname such as @daily"
        return (
            f"'{expression}' is not a cron expression: it has {len(fields)} "
            f"field{'s' if len(fields) != 1 else ''}, expected {expected} ({names}){hint}"
        )
    if with_seconds:
        # Seconds range like minutes (0-59), so cronsim can check the field in that position.
        reason = _check_five([fields[0], "*", "*", "*", "*"])
        if reason is not None:
            return f"'{expression}' is not a valid cron expression: bad second"
        fields = fields[1:]
    reason = _check_five(fields)
    if reason is not None:
        return f"'{expression}' is not a valid cron expression: {reason[:1].lower()}{reason[1:]}"
    return None


def _translated(expression: str, with_seconds: bool) -> str:
    """The expression as cronsim reads it (a nickname expanded, ``?`` as ``*``; a ``W``
    mark is read as the day itself)."""
    text = expression.strip()
    text = NICKNAMES.get(text, text)
    fields = text.split()
    if text != expression.strip() and with_seconds:
        fields = ["0", *fields]
    offset = 1 if len(fields) == 6 else 0
    dom, dow = offset + 2, offset + 4
    fields[dom] = _WEEKDAY_MARK.sub(r"\1", fields[dom]).replace("?", "*")
    fields[dow] = fields[dow].replace("?", "*")
    return " ".join(fields)


def next_fire(expression: str, after: datetime, *, with_seconds: bool = False) -> datetime | None:
    """The first time strictly after ``after`` that ``expression`` matches, in ``after``'s
    time zone (daylight-saving changes as cronsim applies them); None if there is none."""
    try:
        return next(CronSim(_translated(expression, with_seconds), after))
    except (CronSimError, StopIteration):
        return None


def previous_fire(
    expression: str, before: datetime, *, with_seconds: bool = False
) -> datetime | None:
    """The last time strictly before ``before`` that ``expression`` matches."""
    try:
        return next(CronSim(_translated(expression, with_seconds), before, reverse=True))
    except (CronSimError, StopIteration):
        return None
