"""Per-day profile parts: a daily gate computes only the days it has not profiled yet, verifies the cached ones,
recomputes and names a day whose rows changed, and decides exactly as a gate with a cold state database does."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from airflow_retrain_gate.core import StateStore, Warehouse, parse_policy, run_gate
from airflow_retrain_gate.core.decision import Decision
from airflow_retrain_gate.core.decision_log import DecisionLog, RunKey
from airflow_retrain_gate.core.findings import Branch
from airflow_retrain_gate.core.profiling.day_parts import merge_days, split_days
from airflow_retrain_gate.core.profiling.features import ProfileSettings, profile_features
from airflow_retrain_gate.core.profiling.table_source import TableSource
from airflow_retrain_gate.core.timeframes import TimeWindow
from airflow_retrain_gate.core.warehouse import QueryRecord

AS_OF = datetime(2024, 6, 1, tzinfo=UTC)
POLICY_DATA = {
    "name": "day_parts",
    "tables": {
        "features": {
            "table": "features",
            "timestamp": "event_ts",
            "numeric": ["amount", "age"],
            "categorical": ["city"],
            "segment": "tier",
        }
    },
}
POLICY = parse_policy(POLICY_DATA)


@pytest.fixture
def warehouse_url(tmp_path: Path) -> str:
    """70 days of 400 rows a day before AS_OF (and 5 days after), generated inside DuckDB."""
    url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            """
            CREATE TABLE features AS
            SELECT TIMESTAMP '2024-03-23' + to_microseconds(CAST(i * (86400e6 / 400) AS BIGINT)) AS event_ts,
                   random() * 100 AS amount, 20 + (i * 7919) % 50 AS age,
                   'city_' || CAST(i % 13 AS VARCHAR) AS city, ['gold', 'silver', 'bronze'][1 + i % 3] AS tier
            FROM range(75 * 400) t(i)
            """
        )
    engine.dispose()
    return url


def gate(url: str, state: StateStore, as_of: datetime = AS_OF) -> Decision:
    """One gate run against the warehouse with `state`."""
    warehouse = Warehouse(url, read_only=True)
    try:
        return run_gate(POLICY, warehouse, as_of, state=state)
    finally:
        warehouse.dispose()


def parts_note(decision: Decision) -> dict[str, object]:
    """The decision's account of the day parts it merged and computed."""
    return decision.notes["day_parts"]  # type: ignore[return-value]


def judged(decision: Decision) -> list[tuple[str, str, str, float | None]]:
    """What the decision found, check by check."""
    return [(f.check, f.subject, f.status.value, f.value) for f in decision.findings]


def verdicts(decision: Decision) -> tuple[str, list[tuple[str, str, str]]]:
    """The branch and each finding's status: what must not depend on the state of the cache."""
    return decision.branch.value, [(f.check, f.subject, f.status.value) for f in decision.findings]


def window_reads(records: list[QueryRecord]) -> dict[str, float]:
    """How much of each window the queries of `records` read, in whole windows (the scans tally's measure)."""
    reads: dict[str, float] = {}
    for record in records:
        for scan, times in record.scans:
            reads[scan.window] = reads.get(scan.window, 0.0) + scan.share * times
    return reads


def new_state(tmp_path: Path, name: str) -> StateStore:
    """An empty state database."""
    return StateStore(f"sqlite:///{tmp_path / name}.sqlite")


def test_a_window_profile_is_the_merge_of_its_day_parts(warehouse_url: str) -> None:
    warehouse = Warehouse(warehouse_url, read_only=True)
    source = TableSource.bind(warehouse, POLICY.tables.features, "tables.features")
    window = TimeWindow("reference", AS_OF - timedelta(days=20, hours=6), AS_OF - timedelta(days=3))
    profile = profile_features(source, window, None, ProfileSettings())
    warehouse.dispose()

    parts = split_days(profile)

    assert [part.days for part in parts] == [(day,) for day in profile.days]
    assert parts[0].window.start == window.start  # a partial first day keeps its own span
    assert sum(part.rows for part in parts) == profile.rows
    assert merge_days(profile.window, parts, ProfileSettings().top_k) == profile


def test_the_next_day_computes_only_the_new_day_of_each_window(warehouse_url: str, tmp_path: Path) -> None:
    state = new_state(tmp_path, "state")
    first = gate(warehouse_url, state)
    assert parts_note(first)["computed"] == 28 + 7
    assert parts_note(first)["cached"] == 0

    same_day = gate(warehouse_url, state)
    next_day = gate(warehouse_url, state, AS_OF + timedelta(days=1))

    assert parts_note(same_day)["computed"] == 0
    assert parts_note(same_day)["cached"] == 28 + 7
    assert judged(same_day) == judged(first)
    assert parts_note(next_day)["computed"] == 2
    assert parts_note(next_day)["cached"] == 28 + 7 - 2
    cold = gate(warehouse_url, new_state(tmp_path, "cold"), AS_OF + timedelta(days=1))
    assert verdicts(next_day) == verdicts(cold)  # yesterday's bins, not today's reference's: same verdicts


def add_late_rows(url: str) -> None:
    """Rows arrive late for 2024-04-10, a day of the reference window."""
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO features SELECT event_ts + INTERVAL 1 MINUTE, amount * 3, age, 'city_new', tier "
            "FROM features WHERE event_ts >= TIMESTAMP '2024-04-10' AND event_ts < TIMESTAMP '2024-04-11'"
        )
    engine.dispose()


def test_late_rows_recompute_their_day_and_the_decision_names_it(warehouse_url: str, tmp_path: Path) -> None:
    state = new_state(tmp_path, "state")
    gate(warehouse_url, state)
    add_late_rows(warehouse_url)

    late = gate(warehouse_url, state)

    assert parts_note(late)["recomputed_days"] == {"features": ["2024-04-10"]}
    assert "Recomputed: features 2024-04-10 (rows changed since" in late.to_markdown()
    assert parts_note(late)["computed"] == 1
    assert verdicts(late) == verdicts(gate(warehouse_url, new_state(tmp_path, "cold")))
    after = gate(warehouse_url, state)  # the recomputed part replaced the stale one
    assert parts_note(after) == {"cached": 28 + 7, "computed": 0, "recomputed_days": {}}


def test_on_two_connections_the_cached_days_are_verified_in_two_statements_side_by_side(
    warehouse_url: str, tmp_path: Path
) -> None:
    state = new_state(tmp_path, "state")
    gate(warehouse_url, state)
    add_late_rows(warehouse_url)
    warehouse = Warehouse(warehouse_url, read_only=True, concurrency=2)

    late = run_gate(POLICY, warehouse, AS_OF, state=state)

    verifying = [record for record in warehouse.query_log.records if record.purpose.startswith("verify")]
    warehouse.dispose()
    # Side by side: the query log holds them in the order they finished.
    assert sorted(record.purpose for record in verifying) == [
        "verify cached parts of features reference (2024-03-30..2024-04-16)",
        "verify cached parts of features reference and current (2024-04-17..2024-05-31)",
    ]
    assert sum(record.rows for record in verifying) == 28 + 7
    reads = window_reads(verifying)
    assert reads == pytest.approx({"reference": 1.0, "current": 1.0})  # each window verified in one read
    assert parts_note(late)["recomputed_days"] == {"features": ["2024-04-10"]}


def test_a_broken_cache_entry_is_a_warning_and_the_decision_stands(
    warehouse_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    state = new_state(tmp_path, "state")
    first = gate(warehouse_url, state)
    with state.writing() as connection:
        connection.execute(state.tables["cache"].update().values(profile_json="{not json"))

    with caplog.at_level(logging.WARNING, logger="airflow_retrain_gate"):
        broken = gate(warehouse_url, state)

    assert "unreadable, profiling afresh" in caplog.text
    assert judged(broken) == judged(first)
    assert parts_note(gate(warehouse_url, state))["computed"] == 0  # the broken entries were replaced


def test_a_carried_out_train_pins_new_bins(warehouse_url: str, tmp_path: Path) -> None:
    state = new_state(tmp_path, "state")
    first = gate(warehouse_url, state)
    trained = replace(first, branch=Branch.TRAIN, as_of=AS_OF + timedelta(hours=12))
    DecisionLog(state).record(RunKey("model_dag", "run_1", "gate"), trained)

    after_train = gate(warehouse_url, state, AS_OF + timedelta(days=1))

    assert parts_note(after_train)["cached"] == 0
    assert parts_note(after_train)["computed"] == 28 + 7


def test_windows_meeting_within_a_day_keep_one_part_per_window_and_day(
    warehouse_url: str, tmp_path: Path
) -> None:
    meeting = parse_policy(
        {
            **POLICY_DATA,
            "windows": {
                "reference": {"start": "-20d", "end": "-252h"},
                "current": {"start": "-252h", "end": "0d"},
            },
        }
    )
    state = new_state(tmp_path, "state")
    warehouse = Warehouse(warehouse_url, read_only=True)
    run_gate(meeting, warehouse, AS_OF - timedelta(days=1), state=state)
    warm = run_gate(meeting, warehouse, AS_OF, state=state)
    cold = run_gate(meeting, warehouse, AS_OF)
    warehouse.dispose()

    # The seam moved by a day: the reference gains yesterday's seam day whole and today's morning half, the
    # current today's afternoon half and its new last day.
    assert warm.notes["day_parts"]["computed"] == 2 + 2
    assert verdicts(warm) == verdicts(cold)


def test_a_source_restricted_to_days_reads_only_those_days_inside_each_window(warehouse_url: str) -> None:
    warehouse = Warehouse(warehouse_url, read_only=True)
    source = TableSource.bind(warehouse, POLICY.tables.features, "tables.features")
    new_days = [
        TimeWindow("reference", datetime(2024, 4, 26, tzinfo=UTC), datetime(2024, 4, 27, tzinfo=UTC)),
        TimeWindow("current", datetime(2024, 5, 31, tzinfo=UTC), datetime(2024, 6, 1, tzinfo=UTC)),
    ]
    restricted = source.only_within("timestamp", new_days)
    covering = TimeWindow("both", new_days[0].start, new_days[1].end)
    first_half, second_half = covering.split(2)

    def rows_in(window: TimeWindow) -> int:
        query = sa.select(sa.func.count()).select_from(restricted.clause)
        with warehouse.reading() as connection:
            return int(
                connection.execute(query.where(*restricted.in_window("timestamp", window))).scalar_one()
            )

    def bounds_of(window: TimeWindow) -> set[object]:
        predicate = sa.and_(*restricted.in_window("timestamp", window))
        return set(predicate.compile(compile_kwargs={"literal_binds": False}).params.values())

    assert rows_in(covering) == 2 * 400
    assert rows_in(first_half) == rows_in(second_half) == 400
    # Each part names only the day it holds: no range over the days between them for a planner to scan.
    assert bounds_of(first_half) == {datetime(2024, 4, 26), datetime(2024, 4, 27)}
    assert (
        rows_in(TimeWindow("between", datetime(2024, 5, 1, tzinfo=UTC), datetime(2024, 5, 2, tzinfo=UTC)))
        == 0
    )
    warehouse.dispose()
