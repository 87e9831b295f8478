"""A real Airflow 3.3 site for the UI plugin tests: two teams' DAG bundles, two users, a demo warehouse.

The simple auth manager limits a user to some DAGs only through teams: with `[core] multi_team` on, a
user `bob:viewer:blue` reads the DAGs of bundles owned by team `blue` (and of bundles without a team),
never those of team `red`; `alice:admin` reads everything. That is Airflow's own supported setup, so the
tests need no custom auth manager.

Nothing here changes the test process's Airflow configuration at import: the site runs `airflow`
commands in subprocesses, and only the `airflow_in_process` fixture points this process's Airflow at the site
(environment plus a reconfigured ORM) for the duration of one test module, then puts it back.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from airflow_site import AirflowSite, connection
from fastapi.testclient import TestClient

from airflow_retrain_gate.core import Decision, DecisionLog, StateStore, Warehouse, parse_policy, run_gate
from airflow_retrain_gate.demo.catalog import DEMO_AS_OF, build_demo_warehouse
from airflow_retrain_gate.demo.stories import story_policy

DAGS = Path(__file__).parent / "dags"
USERS = {"alice": "admin", "bob": "viewer:blue"}
"""alice is an admin; bob may read team blue's DAGs (churn_model) but not team red's (fraud_scorer)."""
STORIES = ["healthy", "dead_signal", "segment_mix_shift", "concept_drift"]
"""One story per branch: skip, fix_features, alert, train."""
STATE_CONN_ID = "retrain_gate_state"
WAREHOUSE_CONN_ID = "retrain_gate_warehouse"


@pytest.fixture(scope="session")
def demo_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DuckDB file with the tables of each story in STORIES."""
    warehouse = tmp_path_factory.mktemp("warehouse") / "warehouse.duckdb"
    build_demo_warehouse(f"duckdb:///{warehouse}", STORIES, rows_per_day=300)
    return warehouse


@pytest.fixture(scope="session")
def demo_decisions(demo_warehouse: Path) -> dict[str, Decision]:
    """The gate's real decision for each story of the demo warehouse."""
    warehouse = Warehouse(f"duckdb:///{demo_warehouse}", read_only=True)
    try:
        return {
            story: run_gate(parse_policy(story_policy(story, schema=story)), warehouse, DEMO_AS_OF)
            for story in STORIES
        }
    finally:
        warehouse.dispose()


@pytest.fixture(scope="session")
def airflow_site(tmp_path_factory: pytest.TempPathFactory, demo_warehouse: Path) -> AirflowSite:
    """Airflow home with teams red and blue, each owning a DAG bundle of one gated DAG, and a warehouse."""
    home = tmp_path_factory.mktemp("airflow_site")
    warehouse = demo_warehouse
    passwords = {user: secrets.token_urlsafe(12) for user in USERS}
    (home / "passwords.json").write_text(json.dumps(passwords))
    bundles = [
        {
            "name": team,
            "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
            "kwargs": {"path": str(DAGS / team)},
            "team_name": team,
        }
        for team in ("red", "blue")
    ]
    config = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__MULTI_TEAM": "True",
        "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(
            f"{user}:{role}" for user, role in USERS.items()
        ),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
        "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps(bundles),
        f"AIRFLOW_CONN_{WAREHOUSE_CONN_ID.upper()}": connection(f"duckdb:///{warehouse}", read_only=True),
        f"AIRFLOW_CONN_{STATE_CONN_ID.upper()}": connection(f"sqlite:///{home / 'state.sqlite'}"),
        "AIRFLOW__RETRAIN_GATE__STATE_CONN_ID": STATE_CONN_ID,
    }
    site = AirflowSite(home, config, passwords)
    site.airflow("db", "migrate")
    site.airflow("teams", "sync")
    site.airflow("dags", "reserialize")
    metadata = sa.create_engine(config["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    with metadata.connect() as metadata_connection:
        listed = set(metadata_connection.execute(sa.text("SELECT dag_id FROM serialized_dag")).scalars())
    metadata.dispose()
    assert {"fraud_scorer", "churn_model"} <= listed, f"DAGs not parsed (import errors?): {listed}"
    return site


@pytest.fixture(scope="module")
def airflow_in_process(airflow_site: AirflowSite) -> Iterator[AirflowSite]:
    """This process's Airflow pointed at the site (configuration and metadata database), for one module."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in airflow_site.config.items():
            patch.setenv(name, value)
        _reconfigure_airflow()
        yield airflow_site
    _reconfigure_airflow()


@pytest.fixture(scope="module")
def client(airflow_in_process: AirflowSite) -> TestClient:
    """A test client of the api-server's app (`airflow.api_fastapi.app.create_app`) with the plugin mounted."""
    from airflow.api_fastapi.app import create_app

    return TestClient(create_app())


@pytest.fixture(scope="module")
def tokens(client: TestClient, airflow_in_process: AirflowSite) -> dict[str, str]:
    """A JWT per user, from the simple auth manager's login endpoint."""
    return {
        user: client.post("/auth/token", json={"username": user, "password": password}).json()["access_token"]
        for user, password in airflow_in_process.passwords.items()
    }


@pytest.fixture
def log(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    airflow_in_process: AirflowSite,
) -> Iterator[DecisionLog]:
    """An empty decision log on a fresh connection set as `[retrain_gate] state_conn_id`: DuckDB, or a new
    PostgreSQL database when a test is parametrized with `indirect=["log"]` and "postgresql"."""
    from airflow_retrain_gate.plugins.decision_source import decision_log as decision_log_of

    conn_id = f"state_{uuid.uuid4().hex[:8]}"
    with _state_database(getattr(request, "param", "duckdb"), tmp_path, request) as url:
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", connection(url))
        monkeypatch.setenv("AIRFLOW__RETRAIN_GATE__STATE_CONN_ID", conn_id)
        decision_log = DecisionLog(StateStore(url))
        yield decision_log
        decision_log.state.dispose()
        decision_log_of(conn_id).state.dispose()  # the plugin's engine, so the database can be dropped


@contextmanager
def _state_database(dialect: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    if dialect == "duckdb":
        yield f"duckdb:///{tmp_path / 'state.duckdb'}"
        return
    server = sa.engine.make_url(request.getfixturevalue("postgres_server"))
    name = f"rg_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.dispose()


def _reconfigure_airflow() -> None:
    """Make already imported Airflow read the current environment's database settings."""
    from airflow import settings

    settings.configure_vars()
    settings.reconfigure_orm()
