"""Per-day profile parts: a window's table profile cut into one profile per day, and days merged back into a
window's. Every field of a part is a count, a sum or a day's own value, so merging is exact; a window's most frequent
values are the `top_k` largest sums of each day's most frequent values, as profiles compute them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any, TypeVar

import numpy as np

from airflow_retrain_gate.core.moments import Moments
from airflow_retrain_gate.core.profiling.profiles import (
    CategoricalProfile,
    NumericProfile,
    TableProfile,
    merge_top_values,
)
from airflow_retrain_gate.core.timeframes import TimeWindow, midnight

Item = TypeVar("Item")


def day_spans(window: TimeWindow) -> list[TimeWindow]:
    """The part of `window` within each UTC day it touches (whole days, but for a window's partial ends)."""
    return [
        TimeWindow(
            window.name, max(midnight(day), window.start), min(midnight(day + timedelta(days=1)), window.end)
        )
        for day in window.days()
    ]


def split_days(profile: TableProfile) -> list[TableProfile]:
    """One profile per day of `profile`, each over that day's span of its window."""
    return [_day(profile, index, span) for index, span in enumerate(day_spans(profile.window))]


def _day(profile: TableProfile, index: int, span: TimeWindow) -> TableProfile:
    def at(values: Sequence[Item]) -> tuple[Item, ...]:
        return (values[index],) if values else ()

    def counted(column: NumericProfile | CategoricalProfile) -> dict[str, Any]:
        """The fields a numeric and a categorical column share, for this day."""
        by_segment = {
            key: (days[index],) for key, days in column.daily_segment_counts.items() if any(days[index])
        }
        return {
            "column": column.column,
            "nulls": column.daily_nulls[index],
            "counts": column.daily_counts[index],
            "daily_counts": at(column.daily_counts),
            "daily_nulls": at(column.daily_nulls),
            "segment_counts": {key: days[0] for key, days in by_segment.items()},
            "daily_segment_counts": by_segment,
        }

    numeric = {
        name: NumericProfile(
            moments=column.daily_moments[index],
            edges=column.edges,
            daily_moments=at(column.daily_moments),
            daily_log_magnitudes=at(column.daily_log_magnitudes),
            **counted(column),
        )
        for name, column in profile.numeric.items()
    }
    categorical = {
        name: CategoricalProfile(
            categories=column.categories,
            top_values=column.daily_top_values[index] if column.daily_top_values else (),
            daily_top_values=at(column.daily_top_values),
            **counted(column),
        )
        for name, column in profile.categorical.items()
    }
    return TableProfile(
        table=profile.table,
        window=span,
        rows=profile.daily_rows[index],
        max_timestamp=profile.daily_max_timestamps[index] if profile.daily_max_timestamps else None,
        min_timestamp=profile.daily_min_timestamps[index] if profile.daily_min_timestamps else None,
        days=at(profile.days),
        daily_rows=at(profile.daily_rows),
        numeric=numeric,
        categorical=categorical,
        segments=profile.segments,
        segment_rows=profile.daily_segment_rows[index] if profile.daily_segment_rows else (),
        daily_segment_rows=at(profile.daily_segment_rows),
        column_types=profile.column_types,
        daily_min_timestamps=at(profile.daily_min_timestamps),
        daily_max_timestamps=at(profile.daily_max_timestamps),
    )


def merge_days(window: TimeWindow, parts: Sequence[TableProfile], top_k: int) -> TableProfile:
    """The profile of `window` from the parts of its days, in order (as `split_days` cut them)."""
    if not parts:
        raise ValueError(f"no day parts to merge for the {window.name} window")
    first = parts[0]

    def days_of(values: Sequence[tuple[Item, ...]]) -> tuple[Item, ...]:
        return tuple(value for day in values for value in day)

    def counted(days: Sequence[NumericProfile] | Sequence[CategoricalProfile]) -> dict[str, Any]:
        """The fields a numeric and a categorical column share, merged over `days` (one column's parts)."""
        slots = len(days[0].counts)
        daily_counts = days_of([day.daily_counts for day in days])
        daily_nulls = days_of([day.daily_nulls for day in days])
        daily_segments = [day.daily_segment_counts for day in days]
        zeros = ((0,) * slots,)
        by_segment = {
            key: tuple(day.get(key, zeros)[0] for day in daily_segments)
            for key in dict.fromkeys(key for day in daily_segments for key in day)
        }
        return {
            "column": days[0].column,
            "nulls": sum(daily_nulls),
            "counts": _sum(daily_counts, slots),
            "daily_counts": daily_counts,
            "daily_nulls": daily_nulls,
            "segment_counts": {key: _sum(counts) for key, counts in by_segment.items()},
            "daily_segment_counts": by_segment,
        }

    numeric = {}
    for name, column in first.numeric.items():
        numeric_days = [part.numeric[name] for part in parts]
        daily_moments = days_of([day.daily_moments for day in numeric_days])
        magnitudes = [day.daily_log_magnitudes for day in numeric_days]
        numeric[name] = NumericProfile(
            moments=Moments.combine_all(list(daily_moments)),
            edges=column.edges,
            daily_moments=daily_moments,
            daily_log_magnitudes=days_of(magnitudes) if all(magnitudes) else (),
            **counted(numeric_days),
        )
    categorical = {}
    for name, kept in first.categorical.items():
        categorical_days = [part.categorical[name] for part in parts]
        daily_top = days_of([day.daily_top_values for day in categorical_days])
        categorical[name] = CategoricalProfile(
            categories=kept.categories,
            top_values=merge_top_values(daily_top, top_k),
            daily_top_values=daily_top,
            **counted(categorical_days),
        )
    daily_rows = days_of([part.daily_rows for part in parts])
    daily_segment_rows = days_of([part.daily_segment_rows for part in parts])
    daily_min = days_of([part.daily_min_timestamps for part in parts])
    daily_max = days_of([part.daily_max_timestamps for part in parts])
    return TableProfile(
        table=first.table,
        window=window,
        rows=sum(daily_rows),
        max_timestamp=max((stamp for stamp in daily_max if stamp is not None), default=None),
        min_timestamp=min((stamp for stamp in daily_min if stamp is not None), default=None),
        days=days_of([part.days for part in parts]),
        daily_rows=daily_rows,
        numeric=numeric,
        categorical=categorical,
        segments=first.segments,
        segment_rows=_sum(daily_segment_rows, len(first.segments)) if first.segments else (),
        daily_segment_rows=daily_segment_rows,
        column_types=first.column_types,
        daily_min_timestamps=daily_min,
        daily_max_timestamps=daily_max,
    )


def _sum(days: Sequence[Sequence[int]], slots: int | None = None) -> tuple[int, ...]:
    """Counts summed over days (`slots` zeros when there are none)."""
    if not days:
        return (0,) * (slots or 0)
    return tuple(int(value) for value in np.asarray(days, dtype=np.int64).sum(axis=0))
