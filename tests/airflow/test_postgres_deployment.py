"""What docker-compose.yml runs, without Docker: the example DAGs with PostgreSQL as Airflow's metadata database
and as the warehouse (seeded on first use), through the compose file's own connection definitions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from airflow_env import REPO
from scratch_databases import scratch_database

from airflow_retrain_gate.demo.provision import DEMO_STATE_CONN_ID, DEMO_WAREHOUSE_CONN_ID

pytestmark = pytest.mark.airflow

DAGS = {
    "retrain_gate_quickstart": {"retrain_gate": "train"},
    "retrain_gate_platform_policy": {
        "retrain_gate[0]": "skip",
        "retrain_gate[1]": "train",
        "retrain_gate[2]": "fix_features",
        "retrain_gate[3]": "alert",
    },
}
"""The quickstart and the platform DAG, whose four models take the four branches. The story DAGs run on the same
PostgreSQL deployment in tests/distributed (the deferred sensor too), and every DAG runs under `dag.test()` in
test_example_dags.py: running them here again cost a minute of a loaded CI machine and covered nothing new."""


def compose_connection(conn_id: str, warehouse_url: str) -> str:
    """docker-compose.yml's definition of a connection, pointed at the test server's warehouse database."""
    environment = yaml.safe_load((REPO / "docker-compose.yml").read_text())["x-airflow-common"]["environment"]
    fields = json.loads(environment[f"AIRFLOW_CONN_{conn_id.upper()}"])
    url = sa.engine.make_url(warehouse_url)
    fields.update(
        host=url.host, port=url.port, login=url.username, password=url.password or "", schema=url.database
    )
    return json.dumps(fields)


@pytest.mark.postgres
@pytest.mark.slow
def test_example_dags_run_on_postgresql_metadata_and_warehouse(postgres_server: str, tmp_path: Path) -> None:
    with (
        scratch_database(postgres_server, "rg_airflow") as metadata_url,
        scratch_database(postgres_server, "rg_warehouse") as warehouse_url,
    ):
        environment = {
            **os.environ,
            "RETRAIN_GATE_DEMO_HOME": str(tmp_path),
            **{
                f"AIRFLOW_CONN_{conn_id.upper()}": compose_connection(conn_id, warehouse_url)
                for conn_id in (DEMO_WAREHOUSE_CONN_ID, DEMO_STATE_CONN_ID)
            },
        }
        summaries_file = tmp_path / "summaries.json"
        command = [sys.executable, "-m", "airflow_retrain_gate.demo.airflow_demo", *DAGS]
        command += ["--metadata-db", metadata_url, "--summaries", str(summaries_file)]

        done = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=600)

        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
        summaries = {summary["dag_id"]: summary for summary in json.loads(summaries_file.read_text())}
        assert {dag_id: summary["state"] for dag_id, summary in summaries.items()} == dict.fromkeys(
            DAGS, "success"
        )
        for dag_id, expected in DAGS.items():
            branches = {task: decision["branch"] for task, decision in summaries[dag_id]["decisions"].items()}
            assert branches == expected, dag_id

        metadata = sa.create_engine(metadata_url)
        with metadata.connect() as connection:
            runs = connection.execute(sa.text("SELECT count(*) FROM dag_run")).scalar()
        metadata.dispose()
        assert runs == len(DAGS)  # Airflow's own tables are in PostgreSQL
        warehouse = sa.create_engine(warehouse_url)
        with warehouse.connect() as connection:
            logged = connection.execute(
                sa.text("SELECT count(*) FROM retrain_gate.retrain_gate_decisions")
            ).scalar()
        warehouse.dispose()
        assert logged == 5  # one row per gate task instance, in the state database's own schema
