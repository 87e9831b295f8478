"""How fast the UI plugin's history page answers with 10,000 logged decisions (docs/ui.md has the figures).

``python -m benchmarks.ui_history [--decisions 10000] [--state-url URL]`` builds a throwaway Airflow home
(SQLite metadata, 50 DAGs, the simple auth manager), logs real demo decisions spread over those DAGs with
``DecisionLog.record``, then times requests through the api-server's own app (JWT auth, the auth
manager's DAG filter, the decision log queries, the HTML rendering) with FastAPI's TestClient.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

DAGS = 50
DAG_FILE = """
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG

for number in range({dags}):
    with DAG(f"model_{{number:02d}}", schedule=None) as dag:
        EmptyOperator(task_id="gate")
    globals()[dag.dag_id] = dag
"""
PAGES = {
    "history, newest 50": "/retrain-gate/",
    "history of one DAG": "/retrain-gate/?dag_id=model_07",
    "history, branch train": "/retrain-gate/?branch=train",
    "history, one week": "/retrain-gate/?since=2024-09-01&until=2024-09-07",
    "history, page 150": "/retrain-gate/?page=150",
    "history as JSON": "/retrain-gate/api/decisions",
    "one decision": "/retrain-gate/decision/model_03/scheduled__00003/gate",
}


def configure_airflow(home: Path, state_url: str) -> dict[str, str]:
    """Environment for an Airflow home with the simple auth manager and the decision log at `state_url`."""
    (home / "dags").mkdir(parents=True)
    (home / "dags" / "models.py").write_text(DAG_FILE.format(dags=DAGS))
    (home / "passwords.json").write_text(json.dumps({"admin": "admin"}))
    state_connection = {"conn_type": "retrain_gate_warehouse", "extra": {"sqlalchemy_url": state_url}}
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW__API_AUTH__JWT_SECRET": os.urandom(32).hex(),
        "AIRFLOW_CONN_BENCHMARK_STATE": json.dumps(state_connection),
        "AIRFLOW__RETRAIN_GATE__STATE_CONN_ID": "benchmark_state",
    }


def log_decisions(home: Path, state_url: str, count: int) -> float:
    """Log `count` real demo decisions over the DAGs, one a day per DAG; returns seconds per record."""
    from airflow_retrain_gate.core import DecisionLog, RunKey, StateStore, Warehouse, parse_policy, run_gate
    from airflow_retrain_gate.demo.catalog import DEMO_AS_OF, build_demo_warehouse

    warehouse_url = f"duckdb:///{home / 'warehouse.duckdb'}"
    policies = build_demo_warehouse(warehouse_url, rows_per_day=300)
    warehouse = Warehouse(warehouse_url, read_only=True)
    decisions = [run_gate(parse_policy(policy), warehouse, DEMO_AS_OF) for policy in policies.values()]
    warehouse.dispose()
    log = DecisionLog(StateStore(state_url))
    started = time.perf_counter()
    for number in range(count):
        decision = decisions[number % len(decisions)]
        as_of = DEMO_AS_OF + timedelta(days=number // DAGS)
        log.record(
            RunKey(f"model_{number % DAGS:02d}", f"scheduled__{number:05d}", "gate"),
            replace(decision, as_of=as_of),
        )
    log.state.dispose()
    return (time.perf_counter() - started) / count


def time_pages(repeat: int) -> dict[str, list[float]]:
    """Seconds per request of each page, `repeat` times after one warm-up request."""
    from airflow.api_fastapi.app import create_app
    from fastapi.testclient import TestClient

    client = TestClient(create_app())
    token = client.post("/auth/token", json={"username": "admin", "password": "admin"}).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    timings = {}
    for name, path in PAGES.items():
        assert client.get(path, headers=headers).status_code == 200, path
        timings[name] = []
        for _ in range(repeat):
            started = time.perf_counter()
            response = client.get(path, headers=headers)
            timings[name].append(time.perf_counter() - started)
            assert response.status_code == 200
    return timings


def main(argv: Sequence[str] | None = None) -> int:
    """Build, fill, time, print a markdown table."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ui_history", description=__doc__)
    parser.add_argument("--decisions", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument(
        "--state-url", help="decision log database (default: a DuckDB file in the temporary home)"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="retrain-gate-ui-bench-") as directory:
        home = Path(directory)
        state_url = args.state_url or f"duckdb:///{home / 'state.duckdb'}"
        os.environ.update(configure_airflow(home, state_url))
        for command in (["db", "migrate"], ["dags", "reserialize"]):
            subprocess.run([sys.executable, "-m", "airflow", *command], check=True, capture_output=True)
        per_record = log_decisions(home, state_url, args.decisions)
        timings = time_pages(args.repeat)
    print(
        f"\n{args.decisions} decisions over {DAGS} DAGs in {state_url.split(':')[0]}; "
        f"DecisionLog.record {per_record * 1000:.1f} ms each\n"
    )
    print("| page | median | p95 |\n|---|---|---|")
    for name, seconds in timings.items():
        p95 = statistics.quantiles(seconds, n=20)[-1]
        print(f"| {name} | {statistics.median(seconds) * 1000:.0f} ms | {p95 * 1000:.0f} ms |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
