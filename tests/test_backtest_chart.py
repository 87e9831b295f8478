"""The backtest chart's title says what the chart shows: trains by the policy and the schedule, and a key only to the
marks it holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow_retrain_gate.backtest_chart import chart_title
from airflow_retrain_gate.backtest_report import BacktestReport
from airflow_retrain_gate.core import Branch
from airflow_retrain_gate.core.backtest import ReplayedDay
from airflow_retrain_gate.core.backtest_summary import compare_with_schedule

START = datetime(2024, 3, 4, tzinfo=UTC)


def report(*days: tuple[str, tuple[str, ...]]) -> BacktestReport:
    """A daily backtest from START of the given (branch, train checks that fired), against a weekly schedule."""
    timeline = [
        ReplayedDay(START + timedelta(days=offset), Branch(branch), (), branch, fired)
        for offset, (branch, fired) in enumerate(days)
    ]
    return BacktestReport("churn", timeline, compare_with_schedule(timeline, timedelta(days=7)), "1d")


def test_a_backtest_without_train_worthy_dates_names_no_shading() -> None:
    quiet = report(("skip", ()), ("skip", ()), ("fix_features", ()))

    assert (
        chart_title(quiet) == "churn: 0 policy trains vs 1 scheduled retrain, 0 of them on broken inputs (x)"
    )


def test_train_worthy_episodes_are_counted_in_the_key() -> None:
    drifting = report(("skip", ()), ("alert", ("concept_drift",)), ("train", ("concept_drift",)))

    assert chart_title(drifting) == (
        "churn: 1 policy train vs 1 scheduled retrain, 0 of them on broken inputs (x); "
        "shaded: 1 train-worthy episode"
    )
