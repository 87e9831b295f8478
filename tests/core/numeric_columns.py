"""Hand-built profiles of one numeric column from a days x rows array of values, for checks judged directly."""

from __future__ import annotations

import numpy as np

from airflow_retrain_gate.core.moments import Moments
from airflow_retrain_gate.core.profiling.profiles import NumericProfile, TableProfile
from airflow_retrain_gate.core.timeframes import TimeWindow


def column_profile(window: TimeWindow, daily_scores: np.ndarray) -> TableProfile:
    """A predictions profile of one column, `score`, from a days x rows array of its values (NaN = NULL); its
    histogram is empty."""
    days = tuple(day.isoformat() for day in window.days())
    assert len(days) == len(daily_scores)
    daily_moments, daily_nulls = [], []
    for values in daily_scores:
        present = values[~np.isnan(values)]
        daily_nulls.append(int(len(values) - len(present)))
        daily_moments.append(
            Moments.from_aggregates(
                len(present),
                present.mean() if len(present) else None,
                present.var() if len(present) else None,
                present.min() if len(present) else None,
                present.max() if len(present) else None,
            )
        )
    score = NumericProfile(
        column="score",
        nulls=sum(daily_nulls),
        moments=Moments.combine_all(daily_moments),
        edges=(0.0, 1.0),
        counts=(0, 0, 0),
        daily_counts=tuple((0, 0, 0) for _ in days),
        daily_moments=tuple(daily_moments),
        daily_nulls=tuple(daily_nulls),
    )
    return TableProfile(
        table="predictions",
        window=window,
        rows=int(daily_scores.size),
        max_timestamp=None,
        days=days,
        daily_rows=tuple(len(values) for values in daily_scores),
        numeric={"score": score},
        categorical={},
    )
