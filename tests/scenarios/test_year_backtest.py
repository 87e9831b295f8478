"""A year in the life of a model, replayed: each episode of `demo/year_world.py` takes the branches it calls for.

Each test replays a few dates around one episode (a daily replay of the year takes minutes); the replay's
private decision log carries the cooldown between them as in a full backtest.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from airflow_retrain_gate.core import Branch, Warehouse, parse_policy
from airflow_retrain_gate.core.backtest import ReplayedDay, replay
from airflow_retrain_gate.demo.loading import load_tables
from airflow_retrain_gate.demo.year_world import (
    CAMPAIGN,
    CONCEPT_CHANGE,
    DEAD_SIGNAL,
    TAXONOMY_CHANGE,
    YEAR_SCHEMA,
    build_year_tables,
    year_policy,
)


@pytest.fixture(scope="module")
def year_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The year's warehouse in a DuckDB file."""
    url = f"duckdb:///{tmp_path_factory.mktemp('year') / 'year.duckdb'}"
    load_tables(url, build_year_tables(), schema=YEAR_SCHEMA)
    return url


def replay_days(url: str, first: date, *offsets: int) -> list[ReplayedDay]:
    """The year's policy replayed on `first` plus each offset in days."""
    start = datetime.combine(first, datetime.min.time(), UTC)
    dates = [start + timedelta(days=offset) for offset in offsets]
    return replay(parse_policy(year_policy()), Warehouse(url), dates)


def test_the_campaign_alerts_on_its_known_event_and_never_trains(year_url: str) -> None:
    days = replay_days(year_url, CAMPAIGN.ends, 0, 4)

    assert all(day.branch is Branch.ALERT for day in days), [day.headline for day in days]
    assert all("known_events" in day.deciding_checks for day in days)
    assert "Spring weekend promo" in days[0].headline


def test_the_dead_signal_calls_for_fixing_features_until_it_is_repaired(year_url: str) -> None:
    days = replay_days(year_url, DEAD_SIGNAL.starts, 7, 18, 21 + 12)

    assert [day.branch for day in days[:2]] == [Branch.FIX_FEATURES, Branch.FIX_FEATURES]
    assert all(day.deciding_checks[0] == "dead_signal" for day in days[:2])
    assert days[2].branch is Branch.SKIP  # twelve days after the repair, the current week is healthy again


def test_the_slow_concept_change_trains_within_three_weeks_of_its_onset(year_url: str) -> None:
    days = replay_days(year_url, CONCEPT_CHANGE.starts, -3, 12, 15, 18)

    assert days[0].branch is Branch.SKIP  # before the onset
    trains = [day for day in days if day.branch is Branch.TRAIN]
    assert trains, [day.headline for day in days]
    assert trains[0].as_of.date() - CONCEPT_CHANGE.starts <= timedelta(days=21)
    assert trains[0].deciding_checks[0] == "concept_drift"
    # The cooldown (28d) turns the next train-worthy dates into alerts.
    assert all(
        day.branch is Branch.ALERT and day.headline.startswith("Cooldown")
        for day in days[days.index(trains[0]) + 1 :]
    )


def test_the_taxonomy_change_calls_for_fixing_the_categoriser(year_url: str) -> None:
    (day,) = replay_days(year_url, TAXONOMY_CHANGE.starts, 7)

    assert day.branch is Branch.FIX_FEATURES
    assert day.deciding_checks[0] == "category_coverage"
