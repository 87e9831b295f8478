"""Hand-built profiles of one numeric column from a days x rows array of values, for checks judged directly."""

from __future__ import annotations

import numpy as np

from airflow_retrain_gate.core.moments import Moments
from airflow_retrain_gate.core.profiling.profiles import NumericProfile, TableProfile
from airflow_retrain_gate.core.timeframes import TimeWindow


def column_profile(
    window: TimeWindow, daily_scores: np.ndarray, log_magnitudes: bool = False
) -> TableProfile:
    """A predictions profile of one column, `score`, from a days x rows array of its values (NaN = NULL); its
    histogram is empty. `log_magnitudes`: with each day's count and mean of ln|x| over non-zero values, as the
    features profiler counts them for a column whose spread strays by day."""
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
        daily_log_magnitudes=tuple(_log_magnitude(values) for values in daily_scores)
        if log_magnitudes
        else (),
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


def _log_magnitude(values: np.ndarray) -> Moments:
    """The count and mean of ln|x| over one day's non-zero, non-null values."""
    logs = np.log(np.abs(values[~np.isnan(values) & (values != 0)]))
    return Moments.from_aggregates(len(logs), logs.mean() if len(logs) else None, 0.0, None, None)
