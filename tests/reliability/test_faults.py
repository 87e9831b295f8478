"""Faults injected into real databases: the gate retries what may pass, then takes on_error, never train."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterator

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
from airflow_retrain_gate.core.retry import RetrySettings
from airflow_retrain_gate.demo.catalog import DEMO_AS_OF

from .gates import diagnose, messages, train_policy

PASSWORD = "s3cret-Pa55word"
UNREACHABLE = f"postgresql+psycopg2://gate:{PASSWORD}@127.0.0.1:1/warehouse"
"""Nothing listens on port 1: every connection is refused at once."""
QUICK_RETRIES = RetrySettings(retries=2, backoff_s=0.05)

pytestmark = pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")


def retry_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The gate's log lines announcing a retry."""
    return [record.getMessage() for record in caplog.records if "retrying in" in record.getMessage()]


def test_an_unreachable_warehouse_is_retried_then_takes_on_error(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="airflow_retrain_gate")
    decision = diagnose(
        Warehouse(UNREACHABLE, retry=QUICK_RETRIES), train_policy() | {"on_error": "fix_features"}
    )

    assert decision.branch is Branch.FIX_FEATURES
    errors = messages(decision, Status.ERROR)
    assert errors and all("Connection refused" in error and "\n" not in error for error in errors)
    assert all(error.startswith("tables.") for error in errors), errors
    retries = retry_warnings(caplog)
    assert any("(try 1 of 3)" in line for line in retries) and any("(try 2 of 3)" in line for line in retries)
    assert not any("(try 3 of 3)" in line for line in retries)
    assert PASSWORD not in decision.to_json() + caplog.text


def test_without_retries_a_refused_connection_is_tried_once(caplog: pytest.LogCaptureFixture) -> None:
    decision = diagnose(Warehouse(UNREACHABLE), train_policy())
    assert decision.branch is Branch.ALERT
    assert retry_warnings(caplog) == []


@pytest.fixture
def slow_views(train_schema: str, postgres_server: str) -> Iterator[str]:
    """Views over the story's predictions that sleep 3 s per query (slow) and 0.3 s per query (lagging)."""
    engine = sa.create_engine(postgres_server)
    with engine.begin() as connection:
        for name, seconds in (("slow_predictions", 3), ("lagging_predictions", 0.3)):
            connection.execute(
                sa.text(
                    # An uncorrelated subquery is an InitPlan: it sleeps once per query, never once per row.
                    f'CREATE OR REPLACE VIEW "{train_schema}".{name} AS SELECT p.* FROM "{train_schema}".predictions p '
                    f"WHERE (SELECT true FROM pg_sleep({seconds}))"
                )
            )
    yield train_schema
    engine.dispose()


def reading_view(schema: str, view: str) -> dict[str, object]:
    """The train policy with its predictions read through `view`."""
    policy = train_policy(schema=schema)
    policy["tables"]["predictions"]["table"] = f"{schema}.{view}"
    return policy


@pytest.mark.postgres
def test_a_query_past_its_statement_timeout_takes_on_error_without_retrying(
    slow_views: str, postgres_server: str, caplog: pytest.LogCaptureFixture
) -> None:
    warehouse = Warehouse(postgres_server, statement_timeout_s=0.5, retry=QUICK_RETRIES)
    started = time.perf_counter()
    decision = diagnose(warehouse, reading_view(slow_views, "slow_predictions"))

    assert time.perf_counter() - started < 10
    assert decision.branch is Branch.ALERT
    assert any("canceling statement due to statement timeout" in m for m in messages(decision, Status.ERROR))
    assert retry_warnings(caplog) == []


@pytest.mark.postgres
def test_the_same_gate_trains_when_the_view_answers_in_time(slow_views: str, postgres_server: str) -> None:
    policy = reading_view(slow_views, "lagging_predictions")
    assert diagnose(Warehouse(postgres_server, statement_timeout_s=5), policy).branch is Branch.TRAIN


def test_a_duckdb_query_past_its_timeout_is_interrupted(sound_duckdb: str) -> None:
    engine = sa.create_engine(sound_duckdb)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "CREATE OR REPLACE VIEW huge_predictions AS SELECT p.* FROM predictions p, range(1000000) AS r"
        )
    engine.dispose()
    policy = train_policy()
    policy["tables"]["predictions"]["table"] = "huge_predictions"
    started = time.perf_counter()
    decision = diagnose(Warehouse(sound_duckdb, statement_timeout_s=0.5), policy)

    assert time.perf_counter() - started < 15
    assert decision.branch is Branch.ALERT
    assert any("statement timeout of 0.5 s exceeded" in m for m in messages(decision, Status.ERROR))


class BackendKiller(threading.Thread):
    """Terminates, from another session, the first backend of `application` found running a query."""

    def __init__(self, url: str, application: str, deadline_s: float = 20.0) -> None:
        super().__init__(daemon=True)
        self.engine = sa.create_engine(url)
        self.application = application
        self.deadline = time.monotonic() + deadline_s
        self.terminated: list[int] = []

    def run(self) -> None:
        find = sa.text(
            "SELECT pid FROM pg_stat_activity WHERE application_name = :app AND state = 'active' "
            "AND query LIKE '%lagging_predictions%' AND query NOT LIKE '%pg_catalog%' LIMIT 1"
        )
        with self.engine.connect() as connection:
            while not self.terminated and time.monotonic() < self.deadline:
                pid = connection.execute(find, {"app": self.application}).scalar()
                if pid is not None:
                    connection.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
                    self.terminated.append(pid)
                connection.commit()
                time.sleep(0.02)
        self.engine.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("retries", "branch"), [(0, Branch.ALERT), (1, Branch.TRAIN)], ids=["no retry", "one retry"]
)
def test_a_connection_dropped_mid_query(
    slow_views: str, postgres_server: str, caplog: pytest.LogCaptureFixture, retries: int, branch: Branch
) -> None:
    application = f"gate-{uuid.uuid4().hex[:8]}"
    killer = BackendKiller(postgres_server, application)
    warehouse = Warehouse(
        sa.create_engine(postgres_server, connect_args={"application_name": application}),
        retry=RetrySettings(retries=retries, backoff_s=0.05),
    )
    killer.start()
    decision = diagnose(warehouse, reading_view(slow_views, "lagging_predictions"))
    killer.join(timeout=30)

    assert len(killer.terminated) == 1
    assert decision.branch is branch
    if retries:
        assert any(
            "server closed the connection unexpectedly (try 1 of 2)" in line
            for line in retry_warnings(caplog)
        )
        assert messages(decision, Status.ERROR) == []
    else:
        assert any("server closed the connection unexpectedly" in m for m in messages(decision, Status.ERROR))


def test_a_state_database_that_is_down_cannot_silence_the_cooldown(sound_duckdb: str) -> None:
    decision = run_gate(
        parse_policy(train_policy()),  # cooldown 7d: a train needs the decision log to rule out a recent one
        Warehouse(sound_duckdb),
        DEMO_AS_OF,
        state=StateStore(UNREACHABLE),
        run_key=RunKey("fraud", "scheduled__2024-06-01", "gate"),
    )
    assert decision.branch is Branch.ALERT
    assert decision.deciding_checks == ("cooldown",)
    assert "cannot read the decision log for the cooldown" in decision.reasons[0]
    assert "Connection refused" in decision.notes["state"]
    assert PASSWORD not in decision.to_json()


def test_writing_to_a_decision_log_that_is_down_fails_with_one_line(sound_duckdb: str) -> None:
    decision = diagnose(sound_duckdb, train_policy())
    with pytest.raises(WarehouseError) as failed:
        DecisionLog(StateStore(UNREACHABLE)).record(RunKey("fraud", "manual__1", "gate"), decision)
    message = str(failed.value)
    assert message.startswith("state database: cannot create the gate's tables: connection to server")
    assert "\n" not in message and PASSWORD not in message
