"""The dry run judges a window's days by the ones it mostly covers, not by an hour at its edge."""

from __future__ import annotations

from datetime import UTC, date, datetime

from airflow_retrain_gate.core.dry_run import judged_days
from airflow_retrain_gate.core.timeframes import TimeWindow


def test_an_hour_at_the_edge_is_not_a_day_of_the_window_but_most_of_a_day_is() -> None:
    current = TimeWindow(
        "current", datetime(2024, 5, 25, 23, tzinfo=UTC), datetime(2024, 6, 1, 23, tzinfo=UTC)
    )

    days = judged_days(current)

    assert days[0] == date(2024, 5, 26), "one hour of May 25th"
    assert days[-1] == date(2024, 6, 1), "23 hours of June 1st"
    assert len(days) == 7
