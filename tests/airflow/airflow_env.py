"""The session's Airflow: a temporary AIRFLOW_HOME, its dags folder and the demo connections.

Airflow reads its configuration when it is first imported, so importing this module (conftest.py does,
at collection) sets the environment before any test imports Airflow. The dags folder holds the example
DAGs and the tests' own DAGs (symlinked), since ``dag.test()`` runs only DAGs from files inside it.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from airflow_retrain_gate.demo.provision import demo_connection_env

REPO = Path(__file__).resolve().parents[2]
AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="retrain-gate-airflow-"))
atexit.register(shutil.rmtree, AIRFLOW_HOME, ignore_errors=True)
DAGS_FOLDER = AIRFLOW_HOME / "dags"
EXAMPLES = DAGS_FOLDER / "examples"
TEST_DAGS = DAGS_FOLDER / "tests"

DAGS_FOLDER.mkdir()
EXAMPLES.symlink_to(REPO / "dags_examples", target_is_directory=True)
TEST_DAGS.symlink_to(Path(__file__).parent / "dags", target_is_directory=True)
os.environ.update(
    {
        "AIRFLOW_HOME": str(AIRFLOW_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{AIRFLOW_HOME / 'airflow.db'}",
        "RETRAIN_GATE_DEMO_HOME": str(AIRFLOW_HOME / "demo"),
    }
)
os.environ.update(demo_connection_env())


def run_airflow(*args: str, env: dict[str, str] | None = None) -> str:
    """Run the `airflow` command with the session's configuration; returns its standard output."""
    done = subprocess.run(
        [sys.executable, "-m", "airflow", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )
    assert done.returncode == 0, f"airflow {' '.join(args)} failed:\n{done.stderr[-3000:]}"
    return done.stdout
