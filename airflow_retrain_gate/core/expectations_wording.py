"""Words for a GX expectation in a finding: what it looked at, what it expected, what it saw."""

from __future__ import annotations

from typing import Any

DOMAIN_KWARGS = frozenset(
    {"column", "column_A", "column_B", "column_list", "batch_id", "row_condition", "condition_parser"}
)
"""Expectation kwargs that say where to look rather than what to expect."""


def subject_of(table: str, kwargs: dict[str, Any]) -> str:
    """``table.column``, ``table.(a, b)`` for pair and compound expectations, else the table."""
    if "column" in kwargs:
        return f"{table}.{kwargs['column']}"
    pair = [kwargs[key] for key in ("column_A", "column_B") if key in kwargs]
    columns = pair or list(kwargs.get("column_list") or [])
    return f"{table}.({', '.join(map(str, columns))})" if columns else table


def expected_of(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The kwargs that state what is expected (bounds, value sets, mostly ...)."""
    return {key: value for key, value in kwargs.items() if key not in DOMAIN_KWARGS}


def describe_expected(expected: dict[str, Any]) -> str:
    """The bounds as words: 'between 0 and 1', 'at least 5,000', 'in {a, b}', 'quantile 0.5 at most 60'."""
    parts = []
    bounds = _bounds(expected.get("min_value"), expected.get("max_value"))
    if bounds:
        parts.append(bounds)
    if "value_set" in expected:
        parts.append(f"in {describe_value(expected['value_set'])}")
    ranges = expected.get("quantile_ranges") or {}
    for quantile, (low, high) in zip(
        ranges.get("quantiles", []), ranges.get("value_ranges", []), strict=False
    ):
        parts.append(f"quantile {quantile} {_bounds(low, high) or 'unbounded'}")
    shown = {"min_value", "max_value", "value_set", "quantile_ranges"}
    parts += [f"{key}={describe_value(value)}" for key, value in expected.items() if key not in shown]
    return ", ".join(parts)


def describe_value(value: Any, items: int = 8) -> str:
    """A value short enough for a sentence: numbers rounded, long sets cut, quantile results as q=value."""
    if isinstance(value, dict) and set(value) == {"quantiles", "values"}:
        pairs = zip(value["quantiles"], value["values"], strict=False)
        return ", ".join(f"quantile {quantile} = {describe_value(observed)}" for quantile, observed in pairs)
    if isinstance(value, list | tuple | set):
        shown = ", ".join(describe_value(item) for item in list(value)[:items])
        return "{" + shown + (", …" if len(value) > items else "") + "}"
    if isinstance(value, float):
        return f"{value:,.6g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _bounds(low: Any, high: Any) -> str:
    if low is not None and high is not None:
        return f"between {describe_value(low)} and {describe_value(high)}"
    if low is not None:
        return f"at least {describe_value(low)}"
    if high is not None:
        return f"at most {describe_value(high)}"
    return ""
