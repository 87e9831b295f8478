"""Fixtures for the provider tests under real Airflow 3.3: one migrated metadata database per session."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from airflow_env import AIRFLOW_HOME, DAGS_FOLDER, EXAMPLES, run_airflow

if TYPE_CHECKING:
    from airflow.sdk import DAG

    from airflow_retrain_gate.demo.airflow_demo import DagRunSummary


@pytest.fixture(scope="session")
def airflow_cli() -> Callable[..., str]:
    """The `airflow` command of the session: ``airflow_cli("providers", "list")`` returns its output."""
    return run_airflow


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """The session's AIRFLOW_HOME, its metadata database migrated by `airflow db migrate`."""
    from airflow.configuration import conf

    if conf.get("core", "dags_folder") != str(DAGS_FOLDER):
        configured = conf.get("core", "dags_folder")
        pytest.fail(f"Airflow was configured before tests/airflow/conftest.py ran (dags_folder {configured})")
    run_airflow("db", "migrate")
    return AIRFLOW_HOME


@pytest.fixture(scope="session")
def demo_warehouse() -> str:
    """The URL of the session's DuckDB demo warehouse (every story), built once."""
    from airflow_retrain_gate.demo.provision import demo_warehouse_path, ensure_demo_warehouse

    url = f"duckdb:///{demo_warehouse_path()}"
    ensure_demo_warehouse(url)
    return url


@pytest.fixture(scope="session")
def dags(airflow_db: Path) -> dict[str, DAG]:
    """Every DAG of the session's dags folder (examples and test DAGs) by id."""
    from airflow_retrain_gate.demo.airflow_demo import load_example_dags

    return load_example_dags(DAGS_FOLDER)


@pytest.fixture(scope="session")
def example_runs(dags: dict[str, DAG], demo_warehouse: str) -> dict[str, DagRunSummary]:
    """One ``dag.test()`` run of every example DAG, as of the demo instant; the tests read these runs."""
    from airflow_retrain_gate.demo.airflow_demo import run_example_dag

    examples = sorted(dag_id for dag_id, dag in dags.items() if Path(dag.fileloc).parent == EXAMPLES)
    return {dag_id: run_example_dag(dags[dag_id]) for dag_id in examples}


@pytest.fixture
def run_dag(dags: dict[str, DAG], demo_warehouse: str) -> Callable[[str], DagRunSummary]:
    """Run one DAG of the session's dags folder with ``dag.test()``: ``run_dag("dag_id")`` -> its summary."""
    from airflow_retrain_gate.demo.airflow_demo import run_example_dag

    return lambda dag_id: run_example_dag(dags[dag_id])
