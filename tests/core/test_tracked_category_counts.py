"""A categorical column's histogram is counted with its top values, after grouping, instead of by a key on every
row: on known bins from the tracked values kept whatever their rank, else from whole days of few values. Each day's
counts must be those of the table, for values far below the day's top ones too."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from airflow_retrain_gate.core import Warehouse, parse_policy
from airflow_retrain_gate.core.profiling.features import FeatureBinning, ProfileSettings, profile_features
from airflow_retrain_gate.core.profiling.table_source import TableSource
from airflow_retrain_gate.core.timeframes import TimeWindow

REFERENCE = TimeWindow("reference", datetime(2024, 5, 1, tzinfo=UTC), datetime(2024, 5, 5, tzinfo=UTC))
CURRENT = TimeWindow("current", datetime(2024, 5, 5, tzinfo=UTC), datetime(2024, 5, 7, tzinfo=UTC))
SETTINGS = ProfileSettings(top_k=5)
PER_DAY = 600


def sku(i: int) -> str | None:
    """In the reference days sku_0..sku_6 lead; in the current days new_0..new_8 lead and sku_0..sku_2 fall far
    below the top five (sku_3..sku_6 are gone), among 400 rare values and 2 % NULLs."""
    if i % 50 == 0:
        return None
    if i % 4 == 1:
        return f"rare_{i * 31 % 400}"
    if i < 4 * PER_DAY:
        return f"sku_{i % 7}"
    return f"sku_{i % 3}" if i % 100 < 6 else f"new_{i % 9}"


FEATURES = pd.DataFrame(
    {
        "event_ts": [
            datetime(2024, 5, 1) + timedelta(seconds=86400 * i / PER_DAY) for i in range(6 * PER_DAY)
        ],
        "amount": [i * 7919 % 1000 / 10 for i in range(6 * PER_DAY)],
        "sku": [sku(i) for i in range(6 * PER_DAY)],
        "city": [None if i % 23 == 0 else f"city_{i % 3}" for i in range(6 * PER_DAY)],
        "session": [f"hot_{i % 5}" if i % 3 == 0 else f"id_{i}" for i in range(6 * PER_DAY)],
    }
)


@pytest.fixture(params=["duckdb", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def source(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TableSource]:
    """FEATURES in a warehouse of each engine, bound as the policy's features table."""
    schema = None
    url = f"{request.param}:///{tmp_path / 'warehouse.db'}"
    if request.param == "postgresql":
        url, schema = request.getfixturevalue("postgres_server"), request.getfixturevalue("postgres_schema")
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        FEATURES.to_sql("features", connection, schema=schema, index=False)
    engine.dispose()
    features = {
        "table": f"{schema}.features" if schema else "features",
        "timestamp": "event_ts",
        "numeric": ["amount"],
        "categorical": ["sku", "city", "session"],
    }
    policy = parse_policy({"name": "tracked_categories", "tables": {"features": features}})
    warehouse = Warehouse(url, read_only=True)
    yield TableSource.bind(warehouse, policy.tables.features, "tables.features")
    warehouse.dispose()


def table_counts(column: str, window: TimeWindow, tracked: tuple[str, ...]) -> list[list[int]]:
    """Each day's rows of every tracked value of `column`, then of the other non-null values, counted in pandas."""
    rows = FEATURES[
        (FEATURES.event_ts >= window.start.replace(tzinfo=None))
        & (FEATURES.event_ts < window.end.replace(tzinfo=None))
        & FEATURES[column].notna()
    ]
    days = [day.isoformat() for day in window.days()]
    counts = [[0] * (len(tracked) + 1) for _ in days]
    for stamp, value in zip(rows.event_ts, rows[column], strict=True):
        slot = tracked.index(value) if value in tracked else len(tracked)
        counts[days.index(stamp.date().isoformat())][slot] += 1
    return counts


def test_the_current_days_count_each_tracked_value_and_the_rest_as_the_table_holds_them(
    source: TableSource,
) -> None:
    reference = profile_features(source, REFERENCE, None, SETTINGS)
    binning = FeatureBinning.of(reference)

    current = profile_features(source, CURRENT, binning, SETTINGS)

    skus = binning.categories["sku"]
    assert set(skus) <= {f"sku_{index}" for index in range(7)}
    assert all(value.startswith("new_") for value, _ in current.categorical["sku"].top_values)
    for column in ("sku", "city", "session"):
        expected = table_counts(column, CURRENT, binning.categories[column])
        assert [list(day) for day in current.categorical[column].daily_counts] == expected
    gone = [slot for slot, value in enumerate(skus) if value not in ("sku_0", "sku_1", "sku_2")]
    assert gone and all(day[slot] == 0 for day in current.categorical["sku"].daily_counts for slot in gone)


def test_a_reference_window_counts_columns_of_few_and_of_many_values_a_day_as_the_table_holds_them(
    source: TableSource,
) -> None:
    reference = profile_features(source, REFERENCE, None, SETTINGS)

    tracked = FeatureBinning.of(reference).categories
    assert tracked["session"] == tuple(f"hot_{index}" for index in range(5))  # among 400 values a day
    for column in ("sku", "city", "session"):
        expected = table_counts(column, REFERENCE, tracked[column])
        assert [list(day) for day in reference.categorical[column].daily_counts] == expected


def test_a_window_counted_on_its_own_bins_equals_its_first_profile(source: TableSource) -> None:
    first = profile_features(source, REFERENCE, None, SETTINGS)

    again = profile_features(source, REFERENCE, FeatureBinning.of(first), SETTINGS)

    assert again == first
