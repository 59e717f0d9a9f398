"""What a deployment holds, counted: executions by state and the work items waiting, for the
metrics every process serves."""

from __future__ import annotations

from sqlalchemy import Connection, func, select

from perch.store.schema import events, executions, jobs, timers


class CountQueries:
    """The counting methods of :class:`perch.store.transaction.SqlTransaction`."""

    _conn: Connection

    def deployment_counts(self) -> dict[str, dict[str, int]]:
        """``{"executions": {state: n}, "queue": {"jobs": n, "timers": n, "events": n}}``."""
        by_state = self._conn.execute(
            select(executions.c.state, func.count()).group_by(executions.c.state)
        ).all()
        queue = {
            name: int(self._conn.execute(select(func.count()).select_from(table)).scalar() or 0)
            for name, table in (("jobs", jobs), ("timers", timers), ("events", events))
        }
        return {"executions": {str(s): int(n) for s, n in by_state}, "queue": queue}
