"""The outcome profiler counts the label domain in the warehouse: the reference's class set and whole numbers,
current labels outside them (named with their counts), and labels timestamped before their prediction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from airflow_retrain_gate.core import Warehouse, parse_policy
from airflow_retrain_gate.core.profiling.outcomes import (
    DayLabels,
    OutcomeBinning,
    class_set_break,
    domain_break_day,
    profile_outcomes,
)
from airflow_retrain_gate.core.profiling.profiles import OutcomeProfile
from airflow_retrain_gate.core.profiling.table_source import TableSource
from airflow_retrain_gate.core.timeframes import TimeWindow
from airflow_retrain_gate.demo.loading import load_tables
from airflow_retrain_gate.demo.stories import story_policy

AS_OF = datetime(2024, 6, 1, tzinfo=UTC)
REFERENCE = TimeWindow("reference", datetime(2024, 3, 30, tzinfo=UTC), datetime(2024, 4, 27, tzinfo=UTC))
CURRENT = TimeWindow("current", datetime(2024, 5, 25, tzinfo=UTC), datetime(2024, 6, 1, tzinfo=UTC))
PER_WINDOW = 60

CASES = {
    # name: (reference labels, current labels, classes, whole numbers, stray labels of the current window)
    "0/1 booleans": ([True, False], [False, True], (0.0, 1.0), True, ()),
    "0/1 with -1 and 0.5": ([0, 1], [0, 1, -1, 0.5, -1], (0.0, 1.0), True, ((-1.0, 24), (0.5, 12))),
    "-1/1 code read as 0/1": ([-1, 1], [0, 1], (-1.0, 1.0), True, ((0.0, 30),)),
    "counts gain halves": ([0, 1, 2, 3, 5], [1, 2.5, 3], (), True, ((2.5, 20),)),
    "amounts with 1e300": ([12.5, 40.25, 7.0], [13.5, 1e300, 8.0], (), False, ((1e300, 20),)),
}


def frames(reference: list[object], current: list[object], early_current: bool) -> dict[str, pd.DataFrame]:
    """PER_WINDOW predictions per window, labels cycling through the given values, known an hour later
    (or, with `early_current`, an hour before their current prediction)."""
    windows = [(REFERENCE, reference), (CURRENT, current)]
    timestamps = [
        window.start.replace(tzinfo=None) + (window.end - window.start) * index / PER_WINDOW
        for window, _ in windows
        for index in range(PER_WINDOW)
    ]
    labels = [values[index % len(values)] for _, values in windows for index in range(PER_WINDOW)]
    delays = [timedelta(hours=1)] * PER_WINDOW + [timedelta(hours=-1 if early_current else 1)] * PER_WINDOW
    entities = np.arange(2 * PER_WINDOW)
    predictions = pd.DataFrame(
        {
            "event_ts": timestamps,
            "entity_id": entities,
            "model_name": "fraud-scorer",
            "score": np.linspace(0.05, 0.95, 2 * PER_WINDOW),
            "risk_band": "low",
        }
    )
    outcomes = pd.DataFrame(
        {
            "entity_id": entities,
            "label_ts": [ts + delay for ts, delay in zip(timestamps, delays, strict=True)],
            "outcome": pd.Series(labels, dtype=bool if isinstance(labels[0], bool) else float),
            "clicked": 0,
            "dwell_seconds": 1.0,
        }
    )
    return {"predictions": predictions, "outcomes": outcomes}


def dated_labels(days: int) -> dict[str, pd.DataFrame]:
    """Labels with a DATE label timestamp: the prediction's day shifted by `days`."""
    tables = frames([0, 1], [0, 1], False)
    day = tables["predictions"]["event_ts"].dt.normalize() + pd.Timedelta(days=days)
    tables["outcomes"]["label_ts"] = day.dt.date
    return tables


@pytest.fixture(scope="module")
def domain_duckdb(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One DuckDB file: each case under its own prefix, plus a case with early labels."""
    url = f"duckdb:///{tmp_path_factory.mktemp('domain') / 'warehouse.duckdb'}"
    engine = sa.create_engine(url)
    for index, (reference, current, *_) in enumerate(CASES.values()):
        load_tables(engine, frames(reference, current, False), prefix=f"c{index}__")
    load_tables(engine, frames([0, 1], [0, 1], True), prefix="early__")
    for days in (0, -1):
        load_tables(engine, dated_labels(days), prefix=f"dated{-days}__")
    engine.dispose()
    return url


def profiles(url: str, prefix: str) -> tuple[OutcomeProfile, OutcomeProfile]:
    """The reference and current outcome profiles of the tables under `prefix`."""
    tables = parse_policy(story_policy("healthy", prefix=prefix)).tables
    warehouse = Warehouse(url)
    outcomes = TableSource.bind(warehouse, tables.outcomes, "tables.outcomes")
    predictions = TableSource.bind(warehouse, tables.predictions, "tables.predictions")
    reference = profile_outcomes(predictions, outcomes, REFERENCE, AS_OF, None, 20)
    current = profile_outcomes(predictions, outcomes, CURRENT, AS_OF, OutcomeBinning.of(reference), 20)
    return reference, current


@pytest.mark.parametrize("index", range(len(CASES)), ids=list(CASES))
def test_the_label_domain_is_profiled_in_the_warehouse(domain_duckdb: str, index: int) -> None:
    _, _, classes, whole, strays = list(CASES.values())[index]
    reference, current = profiles(domain_duckdb, f"c{index}__")
    assert (reference.label_classes, reference.whole_labels) == (classes, whole)
    assert reference.totals("label_stray") == 0 and reference.stray_labels == ()
    assert current.stray_labels == strays
    assert current.totals("label_stray") == sum(count for _, count in strays)
    assert current.totals("label_early") == 0
    assert np.isfinite(current.totals("label_sq"))  # the 1e300 label stays out of the sums


def test_labels_timestamped_before_their_prediction_are_counted(domain_duckdb: str) -> None:
    reference, current = profiles(domain_duckdb, "early__")
    assert reference.totals("label_early") == 0
    assert current.totals("label_early") == current.matured == PER_WINDOW


@pytest.mark.parametrize(("days", "early"), [(0, 0), (-1, PER_WINDOW)])
def test_labels_dated_by_day_are_early_only_before_the_prediction_day(
    domain_duckdb: str, days: int, early: int
) -> None:
    _, current = profiles(domain_duckdb, f"dated{-days}__")
    assert current.matured == PER_WINDOW
    assert current.totals("label_early") == early


@pytest.mark.parametrize(
    ("broke", "since"),
    [
        ([False, False, True, True], "d2"),
        ([False, True, True, True], "d1"),
        ([False, False, False, True], "d3"),
        ([False, False, False, False], None),
        ([True, True, True, True], None),
        ([False, True, False, True], None),
        ([True, False, False, False], None),
    ],
)
def test_a_domain_break_is_a_run_of_days_that_ends_the_reference(
    broke: list[bool], since: str | None
) -> None:
    """Only labels that left the domain of every earlier day and never came back move the domain's end."""
    days = [DayLabels(f"d{index}", 100, 40 if flag else 0) for index, flag in enumerate(broke)]
    assert domain_break_day(days) == since


@pytest.mark.parametrize(("rate", "is_break"), [(0.01, False), (0.02, False), (0.04, True), (0.3, True)])
def test_a_rare_value_first_seen_late_is_no_break(rate: float, is_break: bool) -> None:
    """A value first seen on day 3 of 28 breaks the domain only when it is too frequent since then to have missed
    the first 3 days by chance: 1 or 2 in 100 labels is no break (25 or 50 of them all fall after day 3 with a
    chance of 6% or 0.4%); 4 in 100 is (1e-5)."""
    days = [DayLabels(f"d{index:02}", 100, 0 if index < 3 else round(100 * rate)) for index in range(28)]
    assert domain_break_day(days) == ("d03" if is_break else None)


def class_days(
    before: dict[float, int], after: dict[float, int], since: int
) -> list[tuple[str, dict[float, int]]]:
    """28 reference days counting `before` label values until day `since`, then `after`."""
    return [(f"d{index:02}", before if index < since else after) for index in range(28)]


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        (class_days({-1.0: 80, 1.0: 20}, {0.0: 80, 1.0: 20}, 22), ("d22", (-1.0, 1.0))),
        (class_days({-1.0: 80, 1.0: 20}, {-1.0: 72, 0.0: 8, 1.0: 20}, 15), ("d15", (-1.0, 1.0))),
        (class_days({1.0: 80, 2.0: 20}, {0.0: 80, 1.0: 20}, 27), ("d27", (1.0, 2.0))),
        (class_days({0.0: 80, 1.0: 19, 2.0: 1}, {0.0: 80, 1.0: 19, 2.0: 1}, 0), None),
        (class_days({0.0: 80, 1.0: 20}, {0.0: 80, 1.0: 19, 2.0: 1}, 3), None),
        (class_days({0.0: 100}, {0.0: 80, 1.0: 20}, 4), None),
    ],
    ids=[
        "-1/1 -> 0/1",
        "-1 -> 0 for a tenth",
        "1/2 -> 0/1 on the last day",
        "three values",
        "rare 2",
        "one class",
    ],
)
def test_a_class_set_recoded_inside_the_reference_keeps_the_class_set_before(
    days: list[tuple[str, dict[float, int]]], expected: tuple[str, tuple[float, ...]] | None
) -> None:
    assert class_set_break(days) == expected
