"""The pydantic base class for everything read from a flow document.

Flow documents are user input: unknown keys are errors (Kestra's contract), values are immutable
once parsed, and both the Kestra property names and their Python names are accepted.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """A frozen pydantic model that rejects unknown keys."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        populate_by_name=True,
        str_strip_whitespace=False,
    )
