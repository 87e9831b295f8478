"""A features table wider than one group of columns is profiled group by group, into the profile one set of
queries over every column gives: same columns in the same order, same counts, moments and bins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from airflow_retrain_gate.core import Warehouse, parse_policy
from airflow_retrain_gate.core.profiling.column_groups import (
    COLUMNS_PER_GROUP,
    column_groups,
    profile_feature_groups,
)
from airflow_retrain_gate.core.profiling.features import FeatureBinning, ProfileSettings, profile_features
from airflow_retrain_gate.core.profiling.table_source import TableSource
from airflow_retrain_gate.core.timeframes import TimeWindow

AS_OF = datetime(2024, 6, 1, tzinfo=UTC)
NUMERIC = [f"n{index}" for index in range(COLUMNS_PER_GROUP + 8)]
CATEGORICAL = [f"c{index}" for index in range(COLUMNS_PER_GROUP // 2)]


def wide_table(url: str) -> None:
    """10 days of 300 rows, with more numeric and categorical columns than one group holds."""
    numeric = ", ".join(f"random() * {index + 1} AS n{index}" for index in range(len(NUMERIC)))
    categorical = ", ".join(
        f"'v' || CAST(i % {index + 2} AS VARCHAR) AS c{index}" for index in range(len(CATEGORICAL))
    )
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            f"CREATE TABLE wide AS SELECT TIMESTAMP '2024-05-22' + to_microseconds(i * 2880000000 // 10) AS ts, "
            f"['a', 'b'][1 + i % 2] AS seg, {numeric}, {categorical} FROM range(3000) t(i)"
        )
    engine.dispose()


def test_a_wide_table_profiled_in_groups_equals_one_profile_of_every_column(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'wide.duckdb'}"
    wide_table(url)
    policy = parse_policy(
        {
            "name": "wide",
            "tables": {
                "features": {
                    "table": "wide",
                    "timestamp": "ts",
                    "numeric": NUMERIC,
                    "categorical": CATEGORICAL,
                    "segment": "seg",
                }
            },
        }
    )
    warehouse = Warehouse(url, read_only=True)
    source = TableSource.bind(warehouse, policy.tables.features, "tables.features")
    reference = TimeWindow("reference", AS_OF - timedelta(days=10), AS_OF - timedelta(days=3))
    current = TimeWindow("current", AS_OF - timedelta(days=3), AS_OF)
    settings = ProfileSettings()

    assert [
        len(group.numeric) + len(group.categorical) for group in column_groups(policy.tables.features)
    ] == [
        COLUMNS_PER_GROUP,
        len(NUMERIC) + len(CATEGORICAL) - COLUMNS_PER_GROUP,
    ]
    whole_reference = profile_features(source, reference, None, settings)
    grouped_reference = profile_feature_groups(source, reference, None, settings)
    assert grouped_reference == whole_reference
    bins = FeatureBinning.of(whole_reference)
    assert profile_feature_groups(source, current, bins, settings) == profile_features(
        source, current, bins, settings
    )
    assert list(grouped_reference.numeric) == NUMERIC and list(grouped_reference.categorical) == CATEGORICAL
    warehouse.dispose()
