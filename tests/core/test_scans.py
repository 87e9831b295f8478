"""Each decision says how often the gate read each table's windows (the cost on a warehouse billed per scan); a
second run reads the reference windows from the profile cache, not the warehouse. On DuckDB and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from airflow_retrain_gate.cli import render_table
from airflow_retrain_gate.core import Decision, StateStore, Warehouse, parse_policy, run_gate
from airflow_retrain_gate.core.gate import resolve_windows
from airflow_retrain_gate.core.profiling.features import ProfileSettings, profile_features
from airflow_retrain_gate.core.profiling.outcomes import LABELS_SPAN
from airflow_retrain_gate.core.profiling.table_source import TableSource
from airflow_retrain_gate.core.scans import (
    Scan,
    TableScans,
    WindowScans,
    describe_scans,
    references,
    tally_records,
)
from airflow_retrain_gate.core.warehouse import QueryRecord

AS_OF = datetime(2024, 6, 1, tzinfo=UTC)
DAYS = 14
ROWS_PER_DAY = 40


def policy(schema: str | None) -> dict[str, object]:
    """Features, predictions and outcomes over two adjacent weeks."""
    prefix = f"{schema}." if schema else ""
    return {
        "name": "scan-tally",
        "windows": {"reference": {"start": "-14d", "end": "-7d"}, "current": {"start": "-7d", "end": "0d"}},
        "tables": {
            "features": {
                "table": f"{prefix}features",
                "timestamp": "event_ts",
                "numeric": ["amount"],
                "categorical": ["channel"],
                "segment": "tier",
            },
            "predictions": {
                "table": f"{prefix}predictions",
                "timestamp": "event_ts",
                "entity": "entity_id",
                "score": "score",
            },
            "outcomes": {
                "table": f"{prefix}outcomes",
                "entity": "entity_id",
                "label_timestamp": "label_ts",
                "label": "outcome",
            },
        },
    }


def build_tables(url: str, schema: str | None) -> None:
    """ROWS_PER_DAY events a day for DAYS days before AS_OF, each scored and labelled a day later."""
    metadata = sa.MetaData(schema=schema)
    features = sa.Table(
        "features",
        metadata,
        sa.Column("event_ts", sa.DateTime),
        sa.Column("amount", sa.Double),
        sa.Column("channel", sa.String),
        sa.Column("tier", sa.String),
    )
    predictions = sa.Table(
        "predictions",
        metadata,
        sa.Column("event_ts", sa.DateTime),
        sa.Column("entity_id", sa.Integer),
        sa.Column("score", sa.Double),
    )
    outcomes = sa.Table(
        "outcomes",
        metadata,
        sa.Column("entity_id", sa.Integer),
        sa.Column("label_ts", sa.DateTime),
        sa.Column("outcome", sa.Integer),
    )
    start = AS_OF.replace(tzinfo=None) - timedelta(days=DAYS)
    events = [
        (start + timedelta(days=day, minutes=30 * row), day * ROWS_PER_DAY + row)
        for day in range(DAYS)
        for row in range(ROWS_PER_DAY)
    ]
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        metadata.create_all(connection)
        connection.execute(
            features.insert(),
            [
                {"event_ts": ts, "amount": (key * 37) % 101, "channel": f"c{key % 4}", "tier": f"t{key % 3}"}
                for ts, key in events
            ],
        )
        connection.execute(
            predictions.insert(),
            [{"event_ts": ts, "entity_id": key, "score": (key * 13) % 100 / 100} for ts, key in events],
        )
        connection.execute(
            outcomes.insert(),
            [
                {"entity_id": key, "label_ts": ts + timedelta(days=1), "outcome": int((key * 13) % 100 >= 60)}
                for ts, key in events
            ],
        )
    engine.dispose()


@pytest.fixture(params=["duckdb", "postgresql"])
def warehouse_url(request: pytest.FixtureRequest, duckdb_url: str) -> tuple[str, str | None]:
    """(url, schema) of a warehouse holding the three tables."""
    if request.param == "duckdb":
        url, schema = duckdb_url, None
    else:
        url, schema = request.getfixturevalue("postgres_server"), request.getfixturevalue("postgres_schema")
    build_tables(url, schema)
    return url, schema


def windows_of(decision: Decision, table: str) -> dict[str, WindowScans]:
    """The tally of `table` in `decision`, by window."""
    found = [scans for scans in decision.scans if scans.table.endswith(table)]
    assert len(found) == 1, decision.scans
    return {window.window: window for window in found[0].windows}


def test_a_decision_reports_its_scans_per_table_and_window_and_a_warm_cache_only_verifies_its_day_parts(
    warehouse_url: tuple[str, str | None], tmp_path: Path
) -> None:
    url, schema = warehouse_url
    state = StateStore(f"sqlite:///{tmp_path / 'state.sqlite'}")
    decisions = []
    for _ in ("cold", "warm"):
        warehouse = Warehouse(url)
        decisions.append(run_gate(parse_policy(policy(schema)), warehouse, AS_OF, state=state))
        queries = [record for record in warehouse.query_log.records if record.catalog is None]
        assert queries and all(record.scans for record in queries), "every query says what it reads"
        warehouse.dispose()
    cold, warm = decisions

    # One reflection of each table's columns: a catalog read, which reads none of its rows.
    assert [scans.catalog_reads for scans in cold.scans] == [1, 1, 1]
    cold_features, warm_features = windows_of(cold, "features"), windows_of(warm, "features")
    assert cold_features["reference"].queries >= 3 and cold_features["reference"].cached == 0
    # Warm, each window's cached day parts are verified by one query (rows and latest timestamp per day).
    assert warm_features["reference"] == WindowScans("reference", queries=1, reads=1.0, cached=1)
    assert warm_features["current"] == WindowScans("current", queries=1, reads=1.0, cached=1)
    grouping_sets = url.startswith("postgresql")
    for window in cold_features.values():
        # GROUPING SETS read the window once per query (less when a query covers part of its days); DuckDB's
        # UNION ALL of GROUP BYs reads it once per branch.
        assert (window.reads <= window.queries) if grouping_sets else (window.reads > window.queries)
    # The day parts of the scores and of the outcomes verified by one count of the predictions per day.
    assert windows_of(warm, "predictions")["reference"].queries == 1
    assert windows_of(warm, "predictions")["reference"].cached == 3  # scores, row keys, outcomes
    # The outcomes join reads every label known by as_of, whichever window its predictions are in; warm, both
    # windows' joins come from the cached days, and the labels are verified by one count per label day.
    assert set(windows_of(cold, "outcomes")) == {LABELS_SPAN}
    assert windows_of(warm, "outcomes")[LABELS_SPAN] == WindowScans(
        LABELS_SPAN, queries=1, reads=1.0, cached=2
    )

    assert Decision.from_dict(warm.to_dict()).scans == warm.scans
    older_record = {key: value for key, value in warm.to_dict().items() if key != "scans"}
    assert Decision.from_dict(older_record).scans == ()
    scanned = next(line for line in render_table(warm).splitlines() if line.startswith("scanned: "))
    assert scanned == f"scanned: {describe_scans(warm.scans)}"
    assert "features 1x reference (1 cached), 1x current (1 cached)" in scanned
    assert f"Scanned: {describe_scans(warm.scans)}" in warm.to_markdown()


def test_a_union_all_reads_its_table_once_per_branch_and_grouping_sets_once() -> None:
    table = sa.table("events", sa.column("day"), sa.column("kind"), schema="analytics")
    rows = sa.select(table.c.day, table.c.kind).subquery("window_rows")
    by_day = sa.select(rows.c.day, sa.func.count()).group_by(rows.c.day)
    by_kind = sa.select(rows.c.kind, sa.func.count()).group_by(rows.c.kind)
    both = sa.select(rows.c.day, rows.c.kind, sa.func.count()).group_by(
        sa.func.grouping_sets(sa.tuple_(rows.c.day), sa.tuple_(rows.c.kind))
    )
    assert references(sa.union_all(by_day, by_kind), "analytics.events") == 2
    assert references(both, "analytics.events") == 1
    assert references(sa.text("SELECT 1"), "analytics.events") == 1  # a query that names nothing still ran
    joined = sa.table("labels", sa.column("day"), schema="analytics")
    assert (
        references(sa.select(sa.func.count()).select_from(table.join(joined, sa.true())), "analytics.events")
        == 1
    )


class WithGroupingSets(Warehouse):
    """DuckDB queried the way a warehouse with GROUPING SETS is (PostgreSQL, BigQuery): each window read once."""

    supports_grouping_sets = True


def test_a_profile_read_once_per_query_equals_the_usual_profile_and_reads_less(duckdb_url: str) -> None:
    build_tables(duckdb_url, None)
    features = parse_policy(policy(None)).tables.features
    reference, _ = resolve_windows(parse_policy(policy(None)), AS_OF)
    profiles, reads = [], []
    for warehouse in (Warehouse(duckdb_url), WithGroupingSets(duckdb_url)):
        source = TableSource.bind(warehouse, features, "tables.features")
        profiles.append(profile_features(source, reference, None, ProfileSettings()))
        reads.append(sum(times for record in warehouse.query_log.records for _, times in record.scans))
        warehouse.dispose()
    usual, read_once = profiles
    assert read_once == usual
    assert reads[1] == 3 < reads[0]  # summary, top values, histograms: one read each


def test_tallies_read_as_one_line() -> None:
    tables = (
        TableScans("features", (WindowScans("current", 4, 3.0), WindowScans("reference", 0, 0.0, 2))),
        TableScans("outcomes", (WindowScans(LABELS_SPAN, 1, 1.0, 1),)),
    )
    assert describe_scans(tables) == (
        "features 3x current in 4 queries, 0x reference (cached); outcomes 1x labels by as_of (1 cached)"
    )
    # A query that does not say what it reads still shows, so that it gets declared.
    undeclared = tally_records([QueryRecord("new profile", 3, 0.1)], ())
    assert describe_scans(undeclared) == "(undeclared) 1x unknown span"


def test_a_tally_reads_the_same_whichever_query_finished_first() -> None:
    """Profiles of several tables, and a window's verification parts, run side by side: the query log holds
    them in the order they finished, and the tally puts tables by name and each table's windows in time order."""
    records = [
        QueryRecord("verify predictions", 3, 0.1, ((Scan("predictions", "current"), 1),)),
        QueryRecord("outcomes", 5, 0.1, ((Scan("outcomes", LABELS_SPAN), 1),)),
        QueryRecord("verify features, second half", 3, 0.1, ((Scan("features", "current"), 1),)),
        QueryRecord("verify features, first half", 4, 0.1, ((Scan("features", "reference"), 1),)),
        QueryRecord("features", catalog="features", rows=2, seconds=0.0),
    ]
    finished_otherwise = tally_records(list(reversed(records)), ())
    assert tally_records(records, ()) == finished_otherwise
    assert describe_scans(finished_otherwise) == (
        "features 1x reference, 1x current; outcomes 1x labels by as_of; predictions 1x current"
    )
