"""Validated scalar types of the policy format: durations, window bounds, identifiers."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field

from airflow_retrain_gate.core.timeframes import is_bare_number, parse_duration, to_utc


def _duration_input(value: object) -> object:
    """Refuse a bare number before pydantic's string check, with a message saying it needs a unit."""
    if is_bare_number(value):
        parse_duration(value)  # raises: a duration needs a unit
    return value


def _duration(text: str) -> str:
    parse_duration(text)
    return text


def _bound_input(value: object) -> object:
    """Refuse a bare number before pydantic reads it as epoch seconds: a bound needs a unit or a date."""
    if is_bare_number(value) or not isinstance(value, str | date):
        problem = "has no unit" if is_bare_number(value) else "is not a window bound"
        raise ValueError(
            f"{value!r} {problem}; write a duration relative to as_of ('-7d', '0d') or an ISO date ('2024-05-01')"
        )
    return value


def _bound(value: str | datetime | date) -> str | datetime | date:
    if isinstance(value, str):
        try:
            parse_duration(value)
        except ValueError:
            try:
                to_utc(value)
            except ValueError:
                raise ValueError(
                    f"{value!r} is neither a relative duration ('-7d', '0d') nor an ISO date ('2024-05-01')"
                ) from None
    return value


def _identifier(text: str) -> str:
    if not text.strip():
        raise ValueError("an empty name; give the table or column as it is in the warehouse")
    if "\x00" in text:
        raise ValueError("a name may not contain NUL characters")
    return text


Duration = Annotated[
    str, BeforeValidator(_duration_input), AfterValidator(_duration), Field(examples=["7d", "12h"])
]
"""A signed duration: a number and a unit (s, m, h, d, w)."""
Bound = Annotated[
    str | datetime | date,
    BeforeValidator(_bound_input),
    AfterValidator(_bound),
    Field(examples=["-7d", "0d", "2024-05-01"]),
]
"""A window bound: relative to as_of, or an absolute ISO date/timestamp."""
Identifier = Annotated[str, AfterValidator(_identifier)]
"""A table or column name as the warehouse spells it."""
ClassValue = Annotated[str | int, Field(examples=["fraud", 2])]
"""One class of a multiclass label, as the label column holds it (text or a whole number)."""
