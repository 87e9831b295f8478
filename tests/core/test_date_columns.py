"""A DATE timestamp column stands for its whole day: daily snapshots are fresh when on time, and windows
select whole days, each day in one window only. On DuckDB and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from airflow_retrain_gate.core import Branch, Status, Warehouse, parse_policy, run_gate
from airflow_retrain_gate.core.gate import resolve_windows
from airflow_retrain_gate.core.profiling.features import ProfileSettings, profile_features
from airflow_retrain_gate.core.profiling.table_source import TableSource
from airflow_retrain_gate.core.readiness import FeatureFreshnessProbe

AS_OF = datetime(2024, 6, 1, 23, 0, tzinfo=UTC)
"""Late in the evening: a DATE read as midnight would make yesterday's snapshot look 47 hours old."""
ROWS_PER_DAY = 30


def snapshot_policy(table: str, feed: str) -> dict[str, object]:
    """Daily snapshots of one feed, compared week on week (adjacent windows)."""
    return {
        "name": f"snapshots-{feed}",
        "windows": {"reference": {"start": "-14d", "end": "-7d"}, "current": {"start": "-7d", "end": "0d"}},
        "tables": {
            "features": {
                "table": table,
                "timestamp": "snapshot_date",
                "entity": "customer_id",
                "numeric": ["avg_session_minutes"],
                "filters": {"feed": feed},
            }
        },
    }


@pytest.fixture(params=["duckdb", "postgresql"])
def snapshots(request: pytest.FixtureRequest, duckdb_url: str) -> tuple[str, str]:
    """(url, table) of daily snapshots: feed 'on_time' has yesterday's, feed 'late' stops the day before."""
    if request.param == "duckdb":
        url, schema = duckdb_url, None
    else:
        url, schema = request.getfixturevalue("postgres_server"), request.getfixturevalue("postgres_schema")
    table = sa.Table(
        "snapshots",
        sa.MetaData(schema=schema),
        sa.Column("snapshot_date", sa.Date),
        sa.Column("feed", sa.String),
        sa.Column("customer_id", sa.Integer),
        sa.Column("avg_session_minutes", sa.Double),
    )
    yesterday = AS_OF.date() - timedelta(days=1)
    rows = [
        {
            "snapshot_date": day,
            "feed": feed,
            "customer_id": customer,
            "avg_session_minutes": 10.0 + customer % 7,
        }
        for feed, last in (("on_time", yesterday), ("late", yesterday - timedelta(days=1)))
        for day in (last - timedelta(days=offset) for offset in range(28))
        for customer in range(ROWS_PER_DAY)
    ]
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        table.create(connection)
        connection.execute(table.insert(), rows)
    engine.dispose()
    return url, f"{schema}.snapshots" if schema else "snapshots"


def freshness(url: str, table: str, feed: str) -> tuple[Status, str]:
    decision = run_gate(parse_policy(snapshot_policy(table, feed)), Warehouse(url), AS_OF)
    [finding] = [f for f in decision.findings if f.check == "freshness"]
    assert (decision.branch is Branch.FIX_FEATURES) is (finding.status is Status.FAIL), decision.reasons
    return finding.status, finding.message


def test_an_on_time_daily_snapshot_is_fresh_late_in_the_day_and_a_day_late_one_is_stale(
    snapshots: tuple[str, str],
) -> None:
    url, table = snapshots
    status, message = freshness(url, table, "on_time")
    assert status is Status.PASS, message
    assert "newest row 23h before as_of" in message  # yesterday's date counts until midnight
    status, message = freshness(url, table, "late")
    assert status is Status.FAIL, message
    assert "newest rows reach 2024-05-31 00:00 UTC, 1d 23h before as_of" in message
    probe = FeatureFreshnessProbe.for_policy(parse_policy(snapshot_policy(table, "on_time")), AS_OF)
    assert probe.measure(Warehouse(url)).ready  # the sensor agrees with the gate


def test_windows_select_whole_days_and_no_day_twice(snapshots: tuple[str, str]) -> None:
    url, table = snapshots
    policy = parse_policy(snapshot_policy(table, "on_time"))
    source = TableSource.bind(Warehouse(url), policy.tables.features, "tables.features")
    profiles = [
        profile_features(source, window, None, ProfileSettings()) for window in resolve_windows(policy, AS_OF)
    ]
    reference_days, current_days = (profile.days for profile in profiles)
    assert reference_days == tuple(f"2024-05-{day:02d}" for day in range(18, 25))
    assert current_days == tuple(f"2024-05-{day:02d}" for day in range(25, 32))
    for profile in profiles:
        assert profile.daily_rows == (ROWS_PER_DAY,) * 7  # whole days: no partial first or last day
        assert {profile.window.start.time(), profile.window.end.time()} == {datetime.min.time()}
    assert date.fromisoformat(current_days[-1]) == AS_OF.date() - timedelta(days=1)
