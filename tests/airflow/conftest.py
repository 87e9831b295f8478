"""Real Airflow 3.3 for the provider tests: one temporary AIRFLOW_HOME per session, migrated once.

Airflow reads its configuration when it is first imported, so the environment is set here, at collection,
before any test module imports Airflow.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DAGS_FOLDER = REPO / "dags_examples"
AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="retrain-gate-airflow-"))

os.environ.update(
    {
        "AIRFLOW_HOME": str(AIRFLOW_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{AIRFLOW_HOME / 'airflow.db'}",
    }
)


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """The session's AIRFLOW_HOME with its metadata database migrated by `airflow db migrate`."""
    from airflow.configuration import conf

    if conf.get("core", "dags_folder") != str(DAGS_FOLDER):
        configured = conf.get("core", "dags_folder")
        pytest.fail(f"Airflow was configured before tests/airflow/conftest.py ran (dags_folder {configured})")
    run_airflow("db", "migrate")
    return AIRFLOW_HOME


def run_airflow(*args: str) -> str:
    """Run the `airflow` command with the session's configuration; returns its standard output."""
    done = subprocess.run(
        [sys.executable, "-m", "airflow", *args], capture_output=True, text=True, env=os.environ.copy()
    )
    assert done.returncode == 0, f"airflow {' '.join(args)} failed:\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="session")
def airflow_cli() -> Callable[..., str]:
    """The `airflow` command of the session: ``airflow_cli("providers", "list")`` returns its output."""
    return run_airflow
