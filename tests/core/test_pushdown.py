"""Only aggregates cross the wire: the rows every query returns are bounded by bins x columns x days,
whatever the table's size; a second run over the same past window reads the reference from the cache."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from airflow_retrain_gate.core import StateStore, Warehouse, parse_policy, run_gate
from airflow_retrain_gate.core.profiling.features import ProfileSettings
from airflow_retrain_gate.core.warehouse import QueryRecord

AS_OF = "2024-06-01T00:00:00Z"
POLICY = {
    "name": "pushdown",
    "tables": {
        "features": {
            "table": "features",
            "timestamp": "event_ts",
            "numeric": ["a", "b", "c"],
            "categorical": ["kind", "city"],
            "segment": "tier",
        }
    },
}


def make_features(url: str, rows: int) -> None:
    """`rows` rows over the 70 days before AS_OF, generated inside DuckDB (no rows pass through Python)."""
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            f"""
            CREATE OR REPLACE TABLE features AS
            SELECT TIMESTAMP '2024-03-23' + to_microseconds(CAST(i * (70 * 86400e6 / {rows}) AS BIGINT)) AS event_ts,
                   random() * 10 AS a, (random() + random()) * 100 AS b, CAST(i % 97 AS DOUBLE) AS c,
                   'k' || CAST(i % 7 AS VARCHAR) AS kind, 'city_' || CAST(i % 5000 AS VARCHAR) AS city,
                   ['gold', 'silver', 'bronze'][1 + i % 3] AS tier
            FROM range({rows}) t(i)
            """
        )
    engine.dispose()


def run_counting(url: str, state: StateStore | None = None) -> tuple[list[QueryRecord], list[str]]:
    """Run the gate, returning the rows of each query (our observer) and each SQL statement (SQLAlchemy event)."""
    warehouse = Warehouse(url)
    statements: list[str] = []
    sa.event.listen(
        warehouse.engine,
        "before_cursor_execute",
        lambda conn, cursor, statement, *rest: statements.append(statement),
    )
    records: list[QueryRecord] = []
    warehouse.observers.append(records.append)
    run_gate(parse_policy(POLICY), warehouse, AS_OF, state=state)
    warehouse.dispose()
    catalog = ("information_schema", "duckdb_tables", "duckdb_views", "duckdb_columns")
    return records, [
        s
        for s in statements
        if s.lstrip().upper().startswith("SELECT") and not any(word in s for word in catalog)
    ]


def bound(purpose: str, days: int, settings: ProfileSettings) -> int:
    """The most rows a profile query may return for the POLICY above."""
    numeric, categorical, segments = 3, 2, settings.top_k + 2
    if purpose.endswith("summary"):
        return days + 1
    if purpose.endswith("top values"):
        return days * (categorical + 1) * settings.top_k
    if purpose.endswith("histograms"):
        per_key = numeric * (settings.fine_bins + 2) + categorical * (settings.top_k + 1)
        return days * per_key + days * segments * per_key + days * segments
    return 1


@pytest.mark.parametrize("rows", [50_000, 2_000_000])
def test_rows_returned_are_bounded_by_bins_columns_and_days_not_by_table_size(
    tmp_path: Path, rows: int
) -> None:
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    make_features(url, rows)
    records, statements = run_counting(url)
    settings = ProfileSettings()
    assert len(records) == len(statements) <= 8
    for record in records:
        days = 29 if "reference" in record.purpose else 8
        assert record.rows <= bound(record.purpose, days, settings), record
    for statement in statements:
        assert (
            "GROUP BY" in statement.upper() or "max(" in statement.lower() or "count(" in statement.lower()
        ), statement
    # 37 days x (1 + 3 tiers) x (3 x 102 bins + 2 x 51 categories) histogram rows at most, plus top values:
    # segment x column counts come per day (so that a window is the merge of its days), most of the rows.
    assert sum(record.rows for record in records) < 37 * 4 * 408 + 37 * 3 * 50


def test_the_second_run_only_verifies_its_cached_day_parts(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    make_features(url, 100_000)
    state = StateStore(f"sqlite:///{tmp_path / 'state.sqlite'}")
    first, _ = run_counting(url, state)
    second, _ = run_counting(url, state)
    assert any("profile features reference" in record.purpose for record in first)
    assert [record.purpose for record in second if "features" in record.purpose] == [
        "verify cached parts of features reference and current"
    ]
    assert all(record.rows <= 28 + 7 for record in second)
