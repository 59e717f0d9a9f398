"""Masking the SECRET values of an execution in whatever is shown of it.

SECRET values are marked where they enter the engine, and every value rendered from one is
marked too (:mod:`perch.templating.taint`); what is shown replaces the marked values, and only
those, by ``******``. No text is ever matched: a secret equal to ``SUCCESS`` leaves the state
alone, and a secret ``a`` leaves every other ``a`` alone.
"""

from __future__ import annotations

from typing import Any

from perch.templating.taint import masked


def mask_secrets(value: Any) -> Any:
    """``value`` (text, or JSON-like data) with every marked secret replaced by ``******``."""
    return masked(value)
