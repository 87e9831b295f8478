"""On PostgreSQL, a daily run reads its new days through an index led by the timestamp (a BRIN index on an
append-only table, or a btree): PostgreSQL costs a BRIN bitmap scan of one day like a scan of the whole table and
often picks the scan. Where a btree leads, the cached days are verified one day at a time, each counted from the
index. The rest keeps the planner's choice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from airflow_retrain_gate.core import StateStore, Warehouse, parse_policy, run_gate
from airflow_retrain_gate.core import warehouse as warehouse_module
from airflow_retrain_gate.core.decision import Decision
from airflow_retrain_gate.core.policy import Policy
from tests.core.test_day_parts import verdicts, window_reads

AS_OF = datetime(2024, 6, 1, tzinfo=UTC)


def build_features(url: str, schema: str, index: str | None) -> None:
    """70 days of 300 rows a day before AS_OF in `schema`.features, with the index created by `index` (SQL run
    after the load, ``{table}`` standing for the table) or none."""
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                f"""
            CREATE TABLE {schema}.features AS
            SELECT TIMESTAMP '2024-03-23' + i * INTERVAL '288 seconds' AS event_ts, i AS row_id,
                   (i * 7919) % 1000 / 10.0 AS amount, 'city_' || (i % 13) AS city
            FROM generate_series(0, 70 * 300 - 1) AS i
            """
            )
        )
        if index is not None:
            connection.exec_driver_sql(index.format(table=f"{schema}.features"))
        connection.exec_driver_sql(f"ANALYZE {schema}.features")
    engine.dispose()


def policy(schema: str, windows: dict[str, Any] | None = None) -> Policy:
    """The features of `schema`, over `windows` (default: four weeks of reference, one current week)."""
    features = {
        "table": f"{schema}.features",
        "timestamp": "event_ts",
        "numeric": ["amount"],
        "categorical": ["city"],
    }
    return parse_policy(
        {"name": "index-reads", "tables": {"features": features}, **({"windows": windows} if windows else {})}
    )


def run_recording_seqscan(
    url: str, schema: str, state: StateStore, as_of: datetime
) -> tuple[Decision, Warehouse, list[str]]:
    """A gate run, with the `enable_seqscan` setting each of its statements ran under, as PostgreSQL reports it
    in the statement's own transaction."""
    warehouse = Warehouse(url, read_only=True)
    settings: list[str] = []

    @sa.event.listens_for(warehouse.engine, "before_cursor_execute")
    def record(connection: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "features" in statement and "pg_catalog" not in statement:
            with cursor.connection.cursor() as probe:
                probe.execute("SHOW enable_seqscan")
                settings.append(probe.fetchone()[0])

    decision = run_gate(policy(schema), warehouse, as_of, state=state)
    warehouse.dispose()
    return decision, warehouse, settings


def by_index(warehouse: Warehouse) -> dict[str, bool]:
    """Each query of a run (by purpose): whether it read its days through the timestamp's index."""
    return {
        record.purpose: all(scan.by_index for scan, _ in record.scans)
        for record in warehouse.query_log.records
        if record.catalog is None
    }


@pytest.mark.parametrize(
    ("index", "btree"),
    [
        ("CREATE INDEX ON {table} USING brin (event_ts)", False),
        ("CREATE INDEX ON {table} (event_ts, city)", True),
    ],
    ids=["brin", "btree led by the timestamp"],
)
def test_a_daily_run_reads_its_new_days_through_the_timestamps_index(
    postgres_server: str, postgres_schema: str, tmp_path: Path, index: str, btree: bool
) -> None:
    build_features(postgres_server, postgres_schema, index)
    info = Warehouse(postgres_server).describe(f"{postgres_schema}.features", "tables.features")
    assert info.indexed == {"event_ts"} and info.btree_indexed == ({"event_ts"} if btree else set())
    state = StateStore(f"sqlite:///{tmp_path / 'state.sqlite'}")

    first, first_reads, first_settings = run_recording_seqscan(
        postgres_server, postgres_schema, state, AS_OF - timedelta(days=1)
    )
    daily, daily_reads, daily_settings = run_recording_seqscan(postgres_server, postgres_schema, state, AS_OF)

    # The first run profiles whole windows: the planner chooses how.
    assert not any(by_index(first_reads).values()) and set(first_settings) == {"on"}
    # The daily run profiles its two new days through the index. It verifies the cached days one day at a time
    # through a btree, and over both windows as the planner chooses through a BRIN index.
    steered = by_index(daily_reads)
    assert daily.notes["day_parts"]["computed"] == 2  # type: ignore[index]
    verifying = {purpose for purpose in steered if purpose.startswith("verify cached parts")}
    assert verifying and {purpose for purpose, through in steered.items() if not through} == (
        set() if btree else verifying
    )
    assert daily_settings.count("off") == sum(steered.values()) > 0
    assert daily_settings.count("on") == len(steered) - sum(steered.values())
    cold = run_gate(policy(postgres_schema), Warehouse(postgres_server), AS_OF)
    assert verdicts(daily) == verdicts(cold)


def test_without_an_index_led_by_the_timestamp_the_planner_chooses(
    postgres_server: str, postgres_schema: str, tmp_path: Path
) -> None:
    # A composite index led by another column, a partial index, an expression index and a hash index (which
    # reads no range): none reads any day.
    indexes = (
        "CREATE INDEX ON {table} (city, event_ts); CREATE INDEX ON {table} (event_ts) WHERE city = 'city_1';"
        " CREATE INDEX ON {table} ((CAST(event_ts AS DATE))); CREATE INDEX ON {table} USING hash (event_ts)"
    )
    build_features(postgres_server, postgres_schema, indexes)
    assert Warehouse(postgres_server).describe(f"{postgres_schema}.features", "tables.features").indexed == {
        "city"
    }
    state = StateStore(f"sqlite:///{tmp_path / 'state.sqlite'}")
    run_recording_seqscan(postgres_server, postgres_schema, state, AS_OF - timedelta(days=1))
    daily, daily_reads, daily_settings = run_recording_seqscan(postgres_server, postgres_schema, state, AS_OF)
    assert daily.notes["day_parts"]["computed"] == 2  # type: ignore[index]
    assert not any(by_index(daily_reads).values()) and set(daily_settings) == {"on"}


def test_through_a_btree_cached_days_are_verified_one_day_at_a_time_and_late_rows_still_found(
    postgres_server: str, postgres_schema: str, tmp_path: Path
) -> None:
    build_features(postgres_server, postgres_schema, "CREATE INDEX ON {table} (event_ts)")
    state = StateStore(f"sqlite:///{tmp_path / 'state.sqlite'}")
    run_recording_seqscan(postgres_server, postgres_schema, state, AS_OF - timedelta(days=1))
    engine = sa.create_engine(postgres_server)
    # A late row in a cached reference day, and one at a cached current day's last instant.
    with engine.begin() as connection:
        connection.exec_driver_sql(
            f"INSERT INTO {postgres_schema}.features VALUES (TIMESTAMP '2024-04-10 12:00', -1, 50.0, 'city_1'),"
            " (TIMESTAMP '2024-05-27 23:59:59.999999', -2, 50.0, 'city_2')"
        )
    engine.dispose()
    statements: list[str] = []
    warehouse = Warehouse(postgres_server, read_only=True)
    sa.event.listen(
        warehouse.engine,
        "before_cursor_execute",
        lambda connection, cursor, statement, parameters, *rest: statements.append(
            cursor.mogrify(statement, parameters).decode()
        ),
    )

    daily = run_gate(policy(postgres_schema), warehouse, AS_OF, state=state)

    recomputed = daily.notes["day_parts"]["recomputed_days"]  # type: ignore[index]
    assert recomputed == {f"{postgres_schema}.features": ["2024-04-10", "2024-05-27"]}
    assert verdicts(daily) == verdicts(run_gate(policy(postgres_schema), Warehouse(postgres_server), AS_OF))
    verifying = [record for record in warehouse.query_log.records if record.purpose.startswith("verify")]
    assert sum(record.rows for record in verifying) == 28 + 7 - 2  # one row a cached day (today's are new)
    reads = window_reads(verifying)
    # Each window is still one read in the tally.
    assert reads == pytest.approx({"reference": 1.0, "current": 1.0})
    verification = next(
        statement for statement in statements if "UNION ALL" in statement and "max(" in statement
    )
    with warehouse.reading(by_index=True) as connection:
        plan = "\n".join(line for (line,) in connection.exec_driver_sql(f"EXPLAIN {verification}"))
    warehouse.dispose()
    assert "Seq Scan" not in plan and "features_event_ts_idx" in plan


def test_through_a_btree_windows_meeting_within_a_day_are_verified_as_a_grouped_read_would(
    postgres_server: str, postgres_schema: str, tmp_path: Path
) -> None:
    build_features(postgres_server, postgres_schema, "CREATE INDEX ON {table} (event_ts)")
    meeting = policy(
        postgres_schema,
        {"reference": {"start": "-20d", "end": "-252h"}, "current": {"start": "-252h", "end": "0d"}},
    )
    state = StateStore(f"sqlite:///{tmp_path / 'state.sqlite'}")
    warehouse = Warehouse(postgres_server, read_only=True)
    run_gate(meeting, warehouse, AS_OF - timedelta(days=1), state=state)
    warm = run_gate(meeting, warehouse, AS_OF, state=state)
    cold = run_gate(meeting, warehouse, AS_OF)
    warehouse.dispose()

    # The seam day holds a part of each window; both are counted in one day's total, as when grouped by day.
    assert warm.notes["day_parts"]["computed"] == 2 + 2  # type: ignore[index]
    assert warm.notes["day_parts"]["recomputed_days"] == {}  # type: ignore[index]
    assert verdicts(warm) == verdicts(cold)


def test_a_read_through_the_index_plans_an_index_scan_of_one_day(
    postgres_server: str, postgres_schema: str
) -> None:
    """What the steering does to a plan: one day of the BRIN-indexed table, read by index or as the planner likes."""
    build_features(postgres_server, postgres_schema, "CREATE INDEX ON {table} USING brin (event_ts)")
    one_day = (
        f"EXPLAIN SELECT count(*) FROM {postgres_schema}.features "
        "WHERE event_ts >= TIMESTAMP '2024-05-20' AND event_ts < TIMESTAMP '2024-05-21'"
    )
    warehouse = Warehouse(postgres_server)
    with warehouse.reading(by_index=True) as connection:
        steered = "\n".join(line for (line,) in connection.exec_driver_sql(one_day))
    with warehouse.reading() as connection:
        assert connection.exec_driver_sql("SHOW enable_seqscan").scalar() == "on"
    warehouse.dispose()
    assert "Bitmap Index Scan" in steered and "Seq Scan" not in steered


def test_a_server_without_postgresqls_index_catalog_still_reflects_the_table(
    postgres_server: str,
    postgres_schema: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A server that speaks PostgreSQL's protocol without its catalog: the index listing fails, in a savepoint, and
    the gate reads as the planner chooses."""
    build_features(postgres_server, postgres_schema, "CREATE INDEX ON {table} USING brin (event_ts)")
    monkeypatch.setattr(
        warehouse_module, "_LEADING_INDEX_COLUMNS", sa.text("SELECT 1 FROM pg_catalog.pg_no_index")
    )
    warehouse = Warehouse(postgres_server)
    info = warehouse.describe(f"{postgres_schema}.features", "tables.features")
    warehouse.dispose()
    assert info.indexed == frozenset() and "event_ts" in info.columns
    assert "cannot list the indexes of" in caplog.text
    decision = run_gate(policy(postgres_schema), Warehouse(postgres_server), AS_OF)
    assert decision.queries > 0 and not [f for f in decision.findings if f.status.value == "error"]


def test_date_snapshots_of_a_shared_table_are_verified_one_day_at_a_time_through_their_btree(
    postgres_server: str, postgres_schema: str, tmp_path: Path
) -> None:
    """A DATE column as the timestamp, a btree led by it, and a filter keeping one feed of a shared table."""
    engine = sa.create_engine(postgres_server)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            f"""
            CREATE TABLE {postgres_schema}.snapshots AS
            SELECT DATE '2024-03-23' + i / 300 AS snapshot_date, CASE WHEN mod(i, 4) = 0 THEN 'b' ELSE 'a' END AS feed,
                   mod(i * 7919, 1000) / 10.0 AS amount, 'city_' || mod(i, 13) AS city
            FROM generate_series(0, 70 * 300 - 1) AS i;
            CREATE INDEX ON {postgres_schema}.snapshots (snapshot_date);
            ANALYZE {postgres_schema}.snapshots
            """
        )
    snapshots = parse_policy(
        {
            "name": "snapshots",
            "tables": {
                "features": {
                    "table": f"{postgres_schema}.snapshots",
                    "timestamp": "snapshot_date",
                    "filters": {"feed": "a"},
                    "numeric": ["amount"],
                    "categorical": ["city"],
                }
            },
        }
    )
    state = StateStore(f"sqlite:///{tmp_path / 'state.sqlite'}")
    warehouse = Warehouse(postgres_server, read_only=True)
    run_gate(snapshots, warehouse, AS_OF - timedelta(days=1), state=state)
    # A reload adds a row to a cached day of the feed, and one to another feed's day.
    with engine.begin() as connection:
        connection.exec_driver_sql(
            f"INSERT INTO {postgres_schema}.snapshots VALUES (DATE '2024-04-10', 'a', 50.0, 'city_1'),"
            " (DATE '2024-04-11', 'b', 50.0, 'city_1')"
        )
    engine.dispose()

    daily = run_gate(snapshots, warehouse, AS_OF, state=state)

    verifying = [record for record in warehouse.query_log.records if record.purpose.startswith("verify")]
    warehouse.dispose()
    assert verifying and all(scan.by_index for record in verifying for scan, _ in record.scans)
    assert daily.notes["day_parts"]["recomputed_days"] == {  # type: ignore[index]
        f"{postgres_schema}.snapshots": ["2024-04-10"]
    }
    assert verdicts(daily) == verdicts(run_gate(snapshots, Warehouse(postgres_server), AS_OF))
