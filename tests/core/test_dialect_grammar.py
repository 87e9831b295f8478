"""Every statement the gate sends, compiled by the Snowflake, BigQuery, Trino and Redshift SQLAlchemy dialects,
parses in that engine's grammar (sqlglot).

The statements are those of real runs: the gate, the dry run and both readiness probes run on DuckDB with
their queries built as for the engine (GROUPING SETS, its approximate distinct count), and each query they
send is recorded. No server of those engines runs here: docs/scaling.md ("Engines: what runs where") says what
this proves and what it does not.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa
import sqlglot
from sqlglot import exp

from airflow_retrain_gate.core import Warehouse, parse_policy, run_gate
from airflow_retrain_gate.core.dry_run import dry_run
from airflow_retrain_gate.core.profiling.table_schema import ColumnSchema, TableSchema
from airflow_retrain_gate.core.readiness import FeatureFreshnessProbe, LabelMaturityProbe
from airflow_retrain_gate.core.warehouse import reflected_kind
from airflow_retrain_gate.demo.catalog import DEMO_AS_OF
from airflow_retrain_gate.demo.loading import load_tables
from airflow_retrain_gate.demo.stories import build_story, story_policy
from tests.scenarios.test_stories import assert_story

ENGINES = ("snowflake", "bigquery", "trino", "redshift")
"""SQLAlchemy dialect names, which are also sqlglot's names for the engines' grammars."""
STORY = "concept_drift"
"""The queries a run sends depend on the policy, not on the data (every story's run sends the same ones); this
story's run reaches the outcome checks' follow-up queries too."""


class RecordingWarehouse(Warehouse):
    """A warehouse whose queries are built as for the engine `built_for`, recording each one it runs."""

    def __init__(self, url: str, built_for: str) -> None:
        super().__init__(url)
        self.built_for = built_for
        self.statements: list[tuple[str, sa.Executable]] = []
        """(purpose, statement) in the order they ran."""

    @property
    def dialect(self) -> str:
        """The engine the queries are built for (GROUPING SETS and approximate counts follow it)."""
        return self.built_for

    def fetch(self, query: sa.Executable, purpose: str, *args: Any, **kwargs: Any) -> list[sa.Row[Any]]:
        """Record the statement, then run it on the real warehouse underneath."""
        self.statements.append((purpose, query))
        return super().fetch(query, purpose, *args, **kwargs)


def compiled_text(statement: sa.Executable, engine: str) -> str:
    """The statement as the engine's SQLAlchemy dialect writes it, parameters inlined as literals."""
    dialect = sa.engine.make_url(f"{engine}://").get_dialect()()
    return str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


@pytest.fixture(scope="module")
def story_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"duckdb:///{tmp_path_factory.mktemp('grammar') / 'warehouse.duckdb'}"
    load_tables(url, build_story(STORY, rows_per_day=300))
    return url


@pytest.fixture(scope="module", params=ENGINES)
def recorded(request: pytest.FixtureRequest, story_url: str) -> tuple[str, list[tuple[str, sa.Executable]]]:
    """(engine, statements) of a gate run, a dry run and both readiness probes, their queries built for it."""
    engine: str = request.param
    policy = parse_policy(story_policy(STORY))
    warehouse = RecordingWarehouse(story_url, engine)
    try:
        assert_story(run_gate(policy, warehouse, DEMO_AS_OF), STORY)
        assert not dry_run(policy, warehouse, DEMO_AS_OF).failed
        FeatureFreshnessProbe.for_policy(policy, DEMO_AS_OF).measure(warehouse)
        LabelMaturityProbe.for_policy(policy, DEMO_AS_OF).measure(warehouse)
    finally:
        warehouse.dispose()
    return engine, warehouse.statements


def test_every_table_of_the_policy_is_queried(recorded: tuple[str, list[tuple[str, sa.Executable]]]) -> None:
    _, statements = recorded
    purposes = " ".join(purpose for purpose, _ in statements)
    tables = story_policy(STORY)["tables"]
    assert [name for name, table in tables.items() if table["table"] not in purposes] == []
    assert any("label maturity" in purpose for purpose, _ in statements)
    assert any("dry run" in purpose for purpose, _ in statements)


def test_compiled_statements_parse_in_the_engines_grammar(
    recorded: tuple[str, list[tuple[str, sa.Executable]]],
) -> None:
    engine, statements = recorded
    failures = []
    for purpose, statement in statements:
        text = compiled_text(statement, engine)
        try:
            tree = sqlglot.parse_one(text, read=engine)
        except sqlglot.errors.ParseError as error:
            failures.append(f"{purpose}: {str(error).splitlines()[0]}\n{text}")
            continue
        unknown = sorted({function.name for function in tree.find_all(exp.Anonymous)})
        if unknown:
            failures.append(f"{purpose}: functions unknown to {engine}'s grammar: {unknown}\n{text}")
    assert failures == [], "\n\n".join(failures)


def test_the_grammar_check_rejects_another_engines_sql() -> None:
    """BigQuery quotes names with backticks: its text is no Trino SQL, so the check above can fail."""
    statement = sa.select(sa.func.count()).select_from(sa.table("features", schema="warehouse"))
    assert "`" in compiled_text(statement, "bigquery")
    with pytest.raises(sqlglot.errors.ParseError):
        sqlglot.parse_one(compiled_text(statement, "bigquery"), read="trino")


def test_bigquery_bounds_are_typed_like_their_column() -> None:
    """A TIMESTAMP column (an instant) is compared with a TIMESTAMP parameter, a DATETIME column with a DATETIME.

    sqlalchemy-bigquery reflects them as sa.TIMESTAMP and sa.DATETIME, neither with a time zone flag."""
    reflected = {"event_ts": sa.TIMESTAMP(), "local_ts": sa.DATETIME()}
    columns = {
        name: ColumnSchema(name, str(sql_type), reflected_kind("bigquery", sql_type))
        for name, sql_type in reflected.items()
    }
    table = TableSchema("analytics", "events", columns).clause(list(columns))
    instant = datetime(2024, 6, 1, tzinfo=UTC)
    query = sa.select(sa.func.count()).where(
        table.c.event_ts >= sa.literal(instant, table.c.event_ts.type),
        table.c.local_ts >= sa.literal(instant.replace(tzinfo=None), table.c.local_ts.type),
    )
    text = str(query.compile(dialect=sa.engine.make_url("bigquery://").get_dialect()(paramstyle="pyformat")))
    assert "`event_ts` >= %(param_1:TIMESTAMP)s" in text
    assert "`local_ts` >= %(param_2:DATETIME)s" in text
    assert reflected_kind("postgresql", sa.TIMESTAMP()) == "timestamp"


@pytest.mark.parametrize(
    ("engine", "naive", "zoned"),
    [
        ("trino", "TIMESTAMP '2024-06-01 12:30:00'", "TIMESTAMP '2024-06-01 10:30:00 UTC'"),
        ("bigquery", "DATETIME '2024-06-01 12:30:00'", "TIMESTAMP '2024-06-01 10:30:00 UTC'"),
    ],
)
def test_inlined_bounds_are_typed_literals(engine: str, naive: str, zoned: str) -> None:
    """SQL with its parameters inlined (an expectation suite's window query) compares a timestamp column with a
    timestamp literal: Trino compares no timestamp with a string, BigQuery no TIMESTAMP with a DATETIME."""
    columns = {
        "local_ts": ColumnSchema("local_ts", "TIMESTAMP", "timestamp"),
        "event_ts": ColumnSchema("event_ts", "TIMESTAMP WITH TIME ZONE", "timestamptz"),
        "day": ColumnSchema("day", "DATE", "date"),
    }
    table = TableSchema("analytics", "events", columns).clause(list(columns))
    instant = datetime(2024, 6, 1, 12, 30, tzinfo=timezone(timedelta(hours=2)))
    query = sa.select(table).where(
        table.c.local_ts >= sa.literal(instant.replace(tzinfo=None), table.c.local_ts.type),
        table.c.event_ts >= sa.literal(instant, table.c.event_ts.type),
        table.c.day < sa.literal(instant.date(), table.c.day.type),
    )
    text = compiled_text(query, engine)
    assert f">= {naive} AND" in text
    assert f">= {zoned} AND" in text
    assert "< DATE '2024-06-01'" in text
    sqlglot.parse_one(text, read=engine)
