"""duplicate_keys: the key counts come from one aggregate query on DuckDB, SQLite and PostgreSQL (NULL keys,
filters and the window respected), and the check judges the share of duplicate rows against the reference's."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from airflow_retrain_gate.core import StateStore, Status, Warehouse, parse_policy
from airflow_retrain_gate.core.checks.context import CheckInputs
from airflow_retrain_gate.core.checks.duplicate_keys import DuplicateKeysSettings, duplicates_finding
from airflow_retrain_gate.core.findings import Action
from airflow_retrain_gate.core.policy import PredictionsTable
from airflow_retrain_gate.core.profiling.cache import ProfileCache
from airflow_retrain_gate.core.profiling.key_parts import KeyDayParts
from airflow_retrain_gate.core.profiling.keys import count_keys, count_keys_by_day, merge_key_days
from airflow_retrain_gate.core.profiling.profile_set import ProfileSet
from airflow_retrain_gate.core.profiling.profiles import KeyCounts, from_jsonable, to_jsonable
from airflow_retrain_gate.core.profiling.table_source import TableSource
from airflow_retrain_gate.core.timeframes import TimeWindow
from airflow_retrain_gate.demo.loading import load_tables
from airflow_retrain_gate.demo.stories import story_policy

AS_OF = datetime(2024, 6, 1, tzinfo=UTC)
REFERENCE = TimeWindow("reference", datetime(2024, 3, 30, tzinfo=UTC), datetime(2024, 4, 27, tzinfo=UTC))
CURRENT = TimeWindow("current", datetime(2024, 5, 25, tzinfo=UTC), datetime(2024, 6, 1, tzinfo=UTC))
KEY = ("entity_id", "event_ts")


def counts(window: TimeWindow, rows: int, duplicates: int, conflicting: int = 0) -> KeyCounts:
    return KeyCounts("predictions", window, KEY, rows, rows - duplicates, conflicting)


def judge(reference: KeyCounts, current: KeyCounts, max_share: float = 0.01) -> tuple[Status, str]:
    inputs = CheckInputs(ProfileSet(), parse_policy(story_policy("healthy")), AS_OF, REFERENCE, CURRENT)
    settings = DuplicateKeysSettings(max_share=max_share)
    finding = duplicates_finding(inputs, "tables.predictions", "predictions", reference, current, settings)
    assert finding.action is (Action.FIX_FEATURES if finding.status is Status.FAIL else Action.NONE)
    return finding.status, finding.message


@pytest.mark.parametrize(
    ("reference", "current"),
    [
        (counts(REFERENCE, 40_000, 0), counts(CURRENT, 10_000, 0)),
        (counts(REFERENCE, 40_000, 0), counts(CURRENT, 10_000, 50)),  # 0.5%: below max_share
        (counts(REFERENCE, 40_000, 2_000), counts(CURRENT, 10_000, 550)),  # a key that was never unique
        (counts(REFERENCE, 40_000, 0), counts(CURRENT, 300, 2)),  # 0.7% of a small window
    ],
    ids=["none", "0.5%", "structural 5%", "small window"],
)
def test_duplicates_within_the_tolerance_pass(reference: KeyCounts, current: KeyCounts) -> None:
    assert judge(reference, current)[0] is Status.PASS


@pytest.mark.parametrize("share", [0.02, 0.05, 0.2, 0.5])
@pytest.mark.parametrize("reference_share", [0.0, 0.005])
def test_duplicates_past_the_tolerance_fail_naming_table_key_and_window(
    share: float, reference_share: float
) -> None:
    reference = counts(REFERENCE, 40_000, round(40_000 * reference_share))
    current = counts(CURRENT, 10_000, round(10_000 * share), conflicting=round(10_000 * share))
    status, message = judge(reference, current)
    assert status is Status.FAIL
    assert message.startswith(
        f"Table predictions holds duplicate rows: {round(10_000 * share)} of 10000 rows ({share:.1%}) "
        "in the current window (2024-05-25 to 2024-05-31) repeat a key (entity_id, event_ts)"
    )
    assert "keys carry different scores" in message


def test_a_rise_over_a_structural_share_fails() -> None:
    assert judge(counts(REFERENCE, 40_000, 2_000), counts(CURRENT, 10_000, 800))[0] is Status.FAIL


def test_without_a_usable_reference_duplicates_are_judged_against_none() -> None:
    assert judge(counts(REFERENCE, 0, 0), counts(CURRENT, 10_000, 300))[0] is Status.FAIL
    assert judge(counts(REFERENCE, 0, 0), counts(CURRENT, 10_000, 30))[0] is Status.PASS


def test_a_window_with_too_few_keyed_rows_is_not_judged() -> None:
    status, message = judge(counts(REFERENCE, 40_000, 0), counts(CURRENT, 50, 25))
    assert status is Status.INSUFFICIENT_DATA
    assert "fewer than 200 keyed rows in the current window (2024-05-25 to 2024-05-31)" in message


def test_key_counts_survive_the_profile_cache() -> None:
    original = counts(CURRENT, 100, 7, 3)
    assert from_jsonable(to_jsonable(original)) == original


def predictions_frame() -> pd.DataFrame:
    """Predictions with every kind of row the key count must tell apart."""
    day = pd.Timestamp("2024-05-26 10:00")
    rows = [
        (1, day, 0.1, "fraud"),  # unique
        (2, day, 0.2, "fraud"),  # twice with the same score
        (2, day, 0.2, "fraud"),
        (3, day, 0.3, "fraud"),  # three times, scores disagree
        (3, day, 0.4, "fraud"),
        (3, day, 0.3, "fraud"),
        (4, day, 0.5, "fraud"),  # same entity, another timestamp: another key
        (4, day + pd.Timedelta(hours=1), 0.5, "fraud"),
        (None, day, 0.6, "fraud"),  # NULL keys are not duplicates
        (None, day, 0.7, "fraud"),
        (1, day, 0.9, "churn"),  # another model's row: filtered out
        (5, pd.Timestamp("2024-05-01"), 0.1, "fraud"),  # outside the window
        (5, pd.Timestamp("2024-05-01"), 0.1, "fraud"),
        (6, pd.Timestamp("2024-05-28 08:00"), 0.8, "fraud"),  # another day, twice
        (6, pd.Timestamp("2024-05-28 08:00"), 0.8, "fraud"),
    ]
    frame = pd.DataFrame(rows, columns=["entity_id", "event_ts", "score", "model_name"])
    frame["entity_id"] = frame["entity_id"].astype("Int64")
    return frame


def predictions_source(url: str, schema: str | None = None, key: list[str] | None = None) -> TableSource:
    """The predictions table loaded and bound, one model's rows kept by the mapping's filter."""
    load_tables(url, {"predictions": predictions_frame()}, schema=schema)
    table = f"{schema}.predictions" if schema else "predictions"
    mapping = PredictionsTable(
        table=table,
        timestamp="event_ts",
        entity="entity_id",
        score="score",
        filters={"model_name": "fraud"},
        key=key,
    )
    return TableSource.bind(Warehouse(url), mapping, "tables.predictions")


def count_predictions(
    url: str, schema: str | None = None, key: list[str] | None = None, by_day: bool = False
) -> KeyCounts:
    """The current window's key counts: in one query, or by day and summed (`by_day`)."""
    source = predictions_source(url, schema, key)
    row_key = source.mapping.row_key()
    assert row_key is not None
    score = source.number("score", "score")
    if by_day:
        return merge_key_days(CURRENT, count_keys_by_day(source, CURRENT, row_key, score))
    return count_keys(source, CURRENT, row_key, score)


def assert_counted(found: KeyCounts) -> None:
    assert (found.rows, found.keys, found.duplicates, found.conflicting_keys) == (10, 6, 4, 1)
    assert found.key == KEY


@pytest.mark.parametrize("by_day", [False, True], ids=["window", "by day"])
def test_keys_are_counted_on_duckdb(duckdb_url: str, by_day: bool) -> None:
    assert_counted(count_predictions(duckdb_url, by_day=by_day))


@pytest.mark.parametrize("by_day", [False, True], ids=["window", "by day"])
def test_keys_are_counted_on_sqlite(sqlite_url: str, by_day: bool) -> None:
    assert_counted(count_predictions(sqlite_url, by_day=by_day))


@pytest.mark.postgres
@pytest.mark.parametrize("by_day", [False, True], ids=["window", "by day"])
def test_keys_are_counted_on_postgresql(postgres_server: str, postgres_schema: str, by_day: bool) -> None:
    assert_counted(count_predictions(postgres_server, postgres_schema, by_day=by_day))


def test_a_declared_key_replaces_entity_and_timestamp(duckdb_url: str) -> None:
    found = count_predictions(duckdb_url, key=["entity_id"])
    assert (found.rows, found.keys, found.duplicates, found.key) == (10, 5, 5, ("entity_id",))


def test_cached_day_counts_are_reused_until_their_day_changes(duckdb_url: str, tmp_path: Path) -> None:
    source = predictions_source(duckdb_url)
    source.warehouse.dispose()
    row_key = source.mapping.row_key()
    assert row_key is not None
    state = StateStore(f"sqlite:///{tmp_path / 'state.sqlite'}")
    state.migrate()

    def counted() -> tuple[KeyCounts, list[str]]:
        warehouse = Warehouse(duckdb_url)
        bound = TableSource.bind(warehouse, source.mapping, "tables.predictions")
        parts = KeyDayParts(
            ProfileCache(state), {"table": "predictions"}, bound, row_key, bound.number("score", "score")
        )
        with warehouse.held():
            (found,) = parts.counts([CURRENT])
        computed = [
            record.purpose for record in warehouse.query_log.records if "keys by day" in record.purpose
        ]
        warehouse.dispose()
        return found, computed

    first, first_reads = counted()
    again, again_reads = counted()
    assert_counted(first)
    assert again == first and first_reads and not again_reads  # the second run verified and merged its days
    frame = predictions_frame().iloc[[0, 0]].assign(event_ts=pd.Timestamp("2024-05-29 09:00"))
    engine = sa.create_engine(duckdb_url)
    frame.to_sql("predictions", engine, if_exists="append", index=False)
    engine.dispose()

    late, late_reads = counted()
    assert (late.rows, late.keys) == (first.rows + 2, first.keys + 1)  # a day that changed is counted again
    assert late_reads
