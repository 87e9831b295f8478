"""The comparison with a fixed schedule, counted on a timeline built by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from airflow_retrain_gate.core import Branch
from airflow_retrain_gate.core.backtest import ReplayedDay
from airflow_retrain_gate.core.backtest_summary import compare_with_schedule, train_worthy_episodes

START = datetime(2024, 3, 4, tzinfo=UTC)


def day(offset: int, branch: str, *train_checks: str) -> ReplayedDay:
    """Replayed date START + offset days with `branch`; `train_checks` are the train checks that fired."""
    return ReplayedDay(
        START + timedelta(days=offset), Branch(branch), (), f"{branch} on day {offset}", train_checks
    )


# Days 0-13: skip, a two-day alert, fix_features over days 6-8, then a concept change from day 9 that persistence
# holds back to alert for two days, trains on day 11, and is cooled down on day 12.
TIMELINE = [
    day(0, "skip"),
    day(1, "alert"),
    day(2, "alert"),
    day(3, "skip"),
    day(4, "skip"),
    day(5, "skip"),
    day(6, "fix_features"),
    day(7, "fix_features", "concept_drift"),  # train-worthy, vetoed by broken inputs
    day(8, "fix_features"),
    day(9, "alert", "concept_drift"),
    day(10, "alert", "concept_drift"),
    day(11, "train", "concept_drift", "performance"),
    day(12, "alert", "concept_drift"),
    day(13, "skip"),
]


def test_the_schedule_comparison_counts_retrains_broken_inputs_and_alerts() -> None:
    comparison = compare_with_schedule(TIMELINE, timedelta(days=7))

    assert comparison.policy_trains == (START + timedelta(days=11),)
    assert comparison.schedule_retrains == (START, START + timedelta(days=7))
    assert comparison.schedule_retrains_on_broken_inputs == (START + timedelta(days=7),)
    assert comparison.alerts_raised == 3  # days 1-2, days 9-10 and day 12
    assert comparison.branch_days == {"fix_features": 3, "alert": 5, "train": 1, "skip": 5}


def test_dates_a_check_could_not_diagnose_are_listed_apart() -> None:
    unreadable = ReplayedDay(
        START + timedelta(days=14),
        Branch.ALERT,
        ("freshness",),
        "could not diagnose",
        (),
        ("freshness", "schema"),
    )
    comparison = compare_with_schedule([*TIMELINE, unreadable], timedelta(days=7))

    assert [entry.diagnosed for entry in TIMELINE] == [True] * len(TIMELINE)
    assert not unreadable.diagnosed
    assert comparison.undiagnosed == (START + timedelta(days=14),)
    assert comparison.to_dict()["undiagnosed_dates"] == ["2024-03-18T00:00:00+00:00"]


def test_episodes_start_at_the_first_train_worthy_date_and_time_both_answers() -> None:
    first, second = compare_with_schedule(
        TIMELINE, timedelta(days=7), end=START + timedelta(days=20)
    ).episodes

    assert (first.first_day, first.last_day) == (START + timedelta(days=7), START + timedelta(days=7))
    assert first.policy_train is None  # the policy did not retrain on broken inputs
    assert first.days_to_schedule_retrain == 0  # the schedule did, that very day
    assert (second.first_day, second.last_day) == (START + timedelta(days=9), START + timedelta(days=12))
    assert second.days_to_policy_train == 2
    assert second.schedule_retrain == START + timedelta(days=14)  # the schedule runs on past the last date
    assert second.days_to_schedule_retrain == 5


def test_a_schedule_between_replayed_dates_reads_the_decision_in_force() -> None:
    weekly = [day(0, "skip"), day(7, "fix_features"), day(14, "skip")]

    comparison = compare_with_schedule(weekly, timedelta(days=3))

    # Retrains on days 0, 3, 6, 9, 12: days 9 and 12 fall while day 7's fix_features is in force.
    assert comparison.schedule_retrains_on_broken_inputs == (
        START + timedelta(days=9),
        START + timedelta(days=12),
    )
    assert train_worthy_episodes(weekly) == []


def test_an_empty_timeline_is_refused() -> None:
    with pytest.raises(ValueError, match="nothing was replayed"):
        compare_with_schedule([], timedelta(days=7))
