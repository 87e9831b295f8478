"""Security: warehouse reads cannot write, names from a policy are checked against reflection and quoted,
and credentials never reach decisions, the decision log or the logs."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from airflow_retrain_gate.core import (
    Branch,
    DecisionLog,
    RunKey,
    StateStore,
    Status,
    Warehouse,
    WarehouseError,
    parse_policy,
    run_gate,
)
from airflow_retrain_gate.demo.catalog import DEMO_AS_OF
from airflow_retrain_gate.demo.loading import load_tables

from .gates import diagnose, messages, train_policy

PASSWORD = "Wareh0use-pa55word"
WEIRD_TABLE = 'features"; DROP TABLE victim; --'
WEIRD_COLUMN = "tenure'); DELETE FROM victim; --"


@pytest.fixture(scope="module")
def schema_with_victim(
    train_schema: str, postgres_server: str, train_frames: dict[str, pd.DataFrame]
) -> Iterator[str]:
    """The train story plus a `victim` table and a features table whose names are SQL injections."""
    engine = sa.create_engine(postgres_server)
    weird = train_frames["features"].rename(columns={"tenure_score": WEIRD_COLUMN})
    load_tables(engine, {"victim": pd.DataFrame({"x": [1]}), WEIRD_TABLE: weird}, schema=train_schema)
    yield train_schema
    engine.dispose()


def victims(postgres_server: str, schema: str) -> int:
    """Rows left in the victim table."""
    engine = sa.create_engine(postgres_server)
    with engine.connect() as connection:
        count = connection.execute(sa.text(f'SELECT count(*) FROM "{schema}".victim')).scalar()
    engine.dispose()
    return int(count or 0)


def with_password(url: str) -> str:
    """The URL with a password (the test server trusts 127.0.0.1, so it is accepted and ignored)."""
    return sa.engine.make_url(url).set(password=PASSWORD).render_as_string(hide_password=False)


@pytest.mark.postgres
@pytest.mark.parametrize(
    "statement",
    [
        "DELETE FROM {schema}.victim",
        "CREATE TABLE {schema}.planted (x int)",
        "UPDATE {schema}.victim SET x = 2",
        "SELECT set_config('transaction_read_only', 'off', true)",
    ],
    ids=["delete", "create", "update", "switch off read-only"],
)
def test_a_write_inside_a_warehouse_read_fails_on_postgresql(
    schema_with_victim: str, postgres_server: str, statement: str
) -> None:
    warehouse = Warehouse(postgres_server)
    with pytest.raises(
        WarehouseError, match="in a read-only transaction|read-write mode must be set before any query"
    ):
        warehouse.fetch(sa.text(statement.format(schema=f'"{schema_with_victim}"')), "attack")
    with pytest.raises(sa.exc.InternalError, match="cannot execute DELETE in a read-only transaction"):
        with warehouse.reading() as connection:
            connection.execute(sa.text(f'DELETE FROM "{schema_with_victim}".victim'))
    with pytest.raises(
        sa.exc.SQLAlchemyError, match="transaction read-write mode must be set before any query"
    ):
        with warehouse.reading() as connection:
            connection.execute(sa.text("SELECT 1"))
            connection.execute(sa.text("SET TRANSACTION READ WRITE"))
    warehouse.dispose()
    assert victims(postgres_server, schema_with_victim) == 1


def test_a_read_only_duckdb_warehouse_refuses_writes(
    tmp_path: Path, train_frames: dict[str, pd.DataFrame]
) -> None:
    url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    load_tables(url, train_frames)
    warehouse = Warehouse(url, read_only=True)
    with pytest.raises(WarehouseError, match="read-only mode"):
        warehouse.fetch(sa.text("DELETE FROM features"), "attack")
    assert diagnose(warehouse, train_policy()).branch is Branch.TRAIN
    warehouse.dispose()


@pytest.mark.postgres
def test_names_with_quotes_and_semicolons_are_reflected_and_quoted_not_executed(
    schema_with_victim: str, postgres_server: str
) -> None:
    policy = train_policy(schema=schema_with_victim)
    policy["tables"]["features"]["table"] = f"{schema_with_victim}.{WEIRD_TABLE}"
    policy["tables"]["features"]["numeric"][0] = WEIRD_COLUMN
    decision = diagnose(postgres_server, policy)

    assert decision.branch is Branch.TRAIN  # the story, read through its odd names
    assert not messages(decision, Status.ERROR)
    assert victims(postgres_server, schema_with_victim) == 1


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("section", "field", "name", "error"),
    [
        (
            "features",
            "table",
            "features; DROP TABLE victim",
            "table '{schema}.features; DROP TABLE victim' not found",
        ),
        ("predictions", "score", "score) FROM victim --", "column 'score) FROM victim --' not found"),
        (
            "outcomes",
            "label",
            "(SELECT count(*) FROM victim)",
            "column '(SELECT count(*) FROM victim)' not found",
        ),
    ],
    ids=["table", "column", "subquery"],
)
def test_names_that_are_not_in_the_warehouse_never_reach_a_query(
    schema_with_victim: str, postgres_server: str, section: str, field: str, name: str, error: str
) -> None:
    policy = train_policy(schema=schema_with_victim)
    policy["tables"][section][field] = f"{schema_with_victim}.{name}" if field == "table" else name
    decision = diagnose(postgres_server, policy)
    assert decision.branch is Branch.ALERT
    assert any(error.format(schema=schema_with_victim) in m for m in messages(decision, Status.ERROR))
    assert victims(postgres_server, schema_with_victim) == 1


@pytest.mark.postgres
def test_two_columns_differing_only_in_case_are_not_guessed(train_schema: str, postgres_server: str) -> None:
    engine = sa.create_engine(postgres_server)
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                f'CREATE TABLE "{train_schema}".scores AS SELECT *, score AS "Score" FROM "{train_schema}".predictions'
            )
        )
    engine.dispose()
    policy = train_policy(schema=train_schema)
    policy["tables"]["predictions"] |= {"table": f"{train_schema}.scores", "score": "SCORE"}
    decision = diagnose(postgres_server, policy)
    assert decision.branch is Branch.ALERT
    assert any(
        "tables.predictions.score: column 'SCORE' not found" in m and "risk_band" in m and "Score)" in m
        for m in messages(decision, Status.ERROR)
    )


@pytest.mark.postgres
def test_no_password_in_decisions_the_decision_log_or_the_logs(
    train_schema: str, postgres_server: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    policy = train_policy(schema=train_schema)
    policy["tables"]["outcomes"]["table"] = "no_such_outcomes"  # errors quote what they can
    state = StateStore(with_password(postgres_server), schema=f"{train_schema}_state")
    warehouse = Warehouse(with_password(postgres_server), statement_timeout_s=30)
    key = RunKey("fraud", "manual__secret", "gate")
    decision = run_gate(parse_policy(policy), warehouse, DEMO_AS_OF, state=state, run_key=key)
    DecisionLog(state).record(key, decision)
    with state.reading() as connection:
        row = connection.execute(sa.select(state.tables["decisions"])).one()
    with sa.create_engine(postgres_server).begin() as connection:
        connection.execute(sa.text(f'DROP SCHEMA "{train_schema}_state" CASCADE'))
    state.dispose()
    warehouse.dispose()

    assert decision.branch is Branch.ALERT and messages(decision, Status.ERROR)
    assert PASSWORD not in decision.to_json() + decision.to_markdown()
    assert PASSWORD not in str(tuple(row))
    assert PASSWORD not in caplog.text + repr(warehouse.engine.url) + repr(state.engine.url)
