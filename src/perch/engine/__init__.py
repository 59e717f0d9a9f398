"""The durable execution engine: a pure state machine over executions and task runs.

``transition(flow, execution, event, now=...)`` returns the next execution and the effects
(jobs, timers, logs, audit records...) that the store writes with it in one transaction.
"""

from __future__ import annotations

from perch.engine.creation import new_execution, replay_execution
from perch.engine.errorlogs import error_log_entries, error_logs_hook
from perch.engine.flowindex import find_task
from perch.engine.pausing import resume_declarations
from perch.engine.starting import PAUSE_ELAPSED, RETRY, SLEEP_DONE, TASK_TIMEOUT, is_worker_task
from perch.engine.transition import Transition, transition
from perch.engine.variables import run_variables

__all__ = [
    "PAUSE_ELAPSED",
    "RETRY",
    "SLEEP_DONE",
    "TASK_TIMEOUT",
    "Transition",
    "error_log_entries",
    "error_logs_hook",
    "find_task",
    "is_worker_task",
    "new_execution",
    "replay_execution",
    "resume_declarations",
    "run_variables",
    "transition",
]
