"""One Great Expectations expectation as it was evaluated on the current window, in plain JSON values."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ExpectationResult:
    """One expectation as GX evaluated it on the current window, in plain JSON values."""

    suite: str
    type: str
    kwargs: dict[str, Any]
    meta: dict[str, Any]
    success: bool
    error: str | None
    """GX's exception message when it could not evaluate the expectation (a missing column ...)."""
    result: dict[str, Any]
    """GX's own result object (observed_value, unexpected_percent, partial_unexpected_list ...)."""
    validated_with: dict[str, Any]
    """How the suite ran: engine (sql or pandas), dialect, window query, rows read, timings, GX version."""
