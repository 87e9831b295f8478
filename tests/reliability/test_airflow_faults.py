"""The gate under real Airflow 3.3 task retries and faults, with PostgreSQL as warehouse and decision log.

Airflow runs in a subprocess with its own AIRFLOW_HOME (so this process's Airflow configuration is not
touched): `airflow db migrate`, then `dag.test()` of each DAG in tests/reliability/dags. The connections
carry a password, which must not reach XCom, the task logs, the metadata database or the decision log.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from airflow_retrain_gate.core import DecisionLog, LogQuery, StateStore

PASSWORD = "Airfl0w-s3cret-pw"
DAGS = Path(__file__).parent / "dags"
RUNNER = """
import json, sys
from dataclasses import asdict
from pathlib import Path
from airflow_retrain_gate.demo.airflow_demo import load_example_dags, run_example_dag
dags = load_example_dags(Path(sys.argv[1]))
summaries = {dag_id: asdict(run_example_dag(dags[dag_id])) for dag_id in sys.argv[2:]}
print("SUMMARIES " + json.dumps(summaries))
"""
DAG_IDS = (
    "reliability_lost_after_deciding",
    "reliability_warehouse_unreachable",
    "reliability_state_down",
    "reliability_slow_warehouse",
)

pytestmark = [pytest.mark.postgres, pytest.mark.airflow, pytest.mark.slow]


@dataclass(frozen=True)
class AirflowRuns:
    """The outcome of running every reliability DAG once: summaries, output, and where Airflow kept things."""

    summaries: dict[str, dict[str, Any]]
    output: str
    home: Path
    try_numbers: dict[str, int]
    """dag_id -> the gate task instance's final try number."""


def connection(url: str, **extra: Any) -> str:
    """An AIRFLOW_CONN_* value of the gate's connection type for a SQLAlchemy URL."""
    return json.dumps({"conn_type": "retrain_gate_warehouse", "extra": {"sqlalchemy_url": url, **extra}})


@pytest.fixture(scope="module")
def airflow_runs(
    tmp_path_factory: pytest.TempPathFactory, postgres_server: str, train_schema: str
) -> Iterator[AirflowRuns]:
    """Each reliability DAG run once under Airflow, against the train story in PostgreSQL."""
    engine = sa.create_engine(postgres_server)
    with engine.begin() as connection_:
        connection_.execute(
            sa.text(
                f'CREATE VIEW "{train_schema}".slow_predictions AS SELECT p.* FROM "{train_schema}".predictions p '
                "CROSS JOIN (SELECT pg_sleep(3)) AS pause"
            )
        )
    home = tmp_path_factory.mktemp("airflow")
    server = sa.engine.make_url(postgres_server)
    with_password = server.set(password=PASSWORD).render_as_string(hide_password=False)
    postgres_connection = {
        "conn_type": "postgres",
        "host": server.host,
        "port": server.port,
        "login": server.username,
        "password": PASSWORD,
        "schema": server.database,
        "extra": {"sqlalchemy_scheme": "postgresql+psycopg2"},
    }
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "RELIABILITY_SCHEMA": train_schema,
        "AIRFLOW_CONN_RELIABILITY_WAREHOUSE": json.dumps(postgres_connection),
        "AIRFLOW_CONN_RELIABILITY_STATE": connection(with_password),
        "AIRFLOW_CONN_RELIABILITY_UNREACHABLE": connection(
            f"postgresql+psycopg2://gate:{PASSWORD}@127.0.0.1:1/warehouse", retries=1, retry_backoff_s=0.05
        ),
        "AIRFLOW_CONN_RELIABILITY_SLOW_WAREHOUSE": connection(with_password, statement_timeout_s=0.5),
    }
    migrate = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert migrate.returncode == 0, migrate.stderr[-3000:]
    done = subprocess.run(
        [sys.executable, "-c", RUNNER, str(DAGS), *DAG_IDS],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-5000:]
    summaries = json.loads(done.stdout.split("SUMMARIES ", 1)[1])
    metadata = sa.create_engine(f"sqlite:///{home / 'airflow.db'}")
    with metadata.connect() as connection_:
        rows = connection_.execute(
            sa.text("SELECT dag_id, try_number FROM task_instance WHERE task_id = 'retrain_gate'")
        ).all()
    metadata.dispose()
    yield AirflowRuns(summaries, output, home, {dag_id: try_number for dag_id, try_number in rows})
    state = StateStore(postgres_server)
    with state.writing() as connection_:
        table = state.tables["decisions"]
        connection_.execute(table.delete().where(table.c.dag_id.in_(DAG_IDS)))
    state.dispose()
    engine.dispose()


def logged_rows(postgres_server: str, dag_id: str, run_id: str) -> list[Any]:
    """The decision log rows of one DAG run (the default state schema on the test server)."""
    state = StateStore(postgres_server)
    try:
        return [
            entry
            for entry in DecisionLog(state).history(LogQuery(dag_ids=[dag_id]))
            if entry.key.run_id == run_id
        ]
    finally:
        state.dispose()


def test_a_gate_lost_after_deciding_is_retried_and_logged_once(
    airflow_runs: AirflowRuns, postgres_server: str
) -> None:
    run = airflow_runs.summaries["reliability_lost_after_deciding"]
    assert run["task_states"] == {
        "retrain_gate": "success",
        "train": "success",
        "alert": "skipped",
        "fix_features": "skipped",
    }
    assert airflow_runs.try_numbers["reliability_lost_after_deciding"] == 2
    rows = logged_rows(postgres_server, run["dag_id"], run["run_id"])
    assert [(row.key.task_id, row.try_number, row.branch) for row in rows] == [("retrain_gate", 2, "train")]


def test_an_unreachable_warehouse_is_retried_per_the_connection_then_alerts(
    airflow_runs: AirflowRuns,
) -> None:
    run = airflow_runs.summaries["reliability_warehouse_unreachable"]
    assert run["task_states"]["retrain_gate"] == "success" and run["task_states"]["alert"] == "success"
    decision = run["decisions"]["retrain_gate"]
    assert decision["branch"] == "alert" and decision["reasons"][0].startswith("could not diagnose")
    assert "Connection refused (try 1 of 2); retrying in 0.05 s" in airflow_runs.output


def test_a_statement_timeout_from_the_connection_is_honoured(airflow_runs: AirflowRuns) -> None:
    decision = airflow_runs.summaries["reliability_slow_warehouse"]["decisions"]["retrain_gate"]
    assert decision["branch"] == "alert"
    assert any("canceling statement due to statement timeout" in reason for reason in decision["reasons"])


def test_with_the_decision_log_down_the_gate_does_not_train(airflow_runs: AirflowRuns) -> None:
    decision = airflow_runs.summaries["reliability_state_down"]["decisions"]["retrain_gate"]
    # The policy's cooldown is 7d: without the log, the gate cannot rule out a recent train.
    assert decision["branch"] == "alert"
    assert "cannot read the decision log for the cooldown" in decision["reasons"][0]


def test_with_the_decision_log_down_the_task_still_branches_and_says_what_was_not_recorded(
    airflow_runs: AirflowRuns, postgres_server: str
) -> None:
    run = airflow_runs.summaries["reliability_state_down"]
    assert run["task_states"]["retrain_gate"] == "success"
    assert airflow_runs.try_numbers["reliability_state_down"] == 1, "a refused write is not retried"
    note = run["decisions"]["retrain_gate"]["notes"]["decision_log"]
    assert note.startswith("not recorded in the decision log: the alert decision of reliability_state_down/")
    assert "not recorded in the decision log" in airflow_runs.output


def test_no_password_in_xcom_logs_metadata_or_decision_log(
    airflow_runs: AirflowRuns, postgres_server: str
) -> None:
    assert PASSWORD not in json.dumps(airflow_runs.summaries)
    assert PASSWORD not in airflow_runs.output
    for path in airflow_runs.home.rglob("*"):
        if path.is_file():
            assert PASSWORD.encode() not in path.read_bytes(), path
    state = StateStore(postgres_server)
    with state.reading() as connection_:
        table = state.tables["decisions"]
        logged = connection_.execute(sa.select(table).where(table.c.dag_id.in_(DAG_IDS))).all()
    state.dispose()
    assert logged and all(PASSWORD not in str(tuple(row)) for row in logged)
