"""A gate over a warehouse that answers slowly (tests/distributed/slow_warehouse.py), retried when its worker is
lost: the train story, read through the slow schema's views, with the example DAGs' connections."""

from __future__ import annotations

from datetime import timedelta

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG
from slow_warehouse import SLOW_SCHEMA

from airflow_retrain_gate.demo.catalog import DEMO_AS_OF
from airflow_retrain_gate.demo.provision import DEMO_STATE_CONN_ID, DEMO_WAREHOUSE_CONN_ID
from airflow_retrain_gate.demo.stories import story_policy
from airflow_retrain_gate.operators.gate import RetrainGateOperator

with DAG(
    dag_id="retrain_gate_slow_warehouse",
    schedule=None,
    params={"as_of": DEMO_AS_OF.isoformat()},
    tags=["retrain-gate", "distributed"],
):
    policy = story_policy("slow_warehouse", schema=SLOW_SCHEMA)
    # The slow views filter features through a function declared very costly, so PostgreSQL calls it per pair
    # of rows in residual_drift's join of features to predictions: minutes, even once released. This gate
    # tests a lost worker; residual_drift runs on the plain tables in every other test.
    policy["checks"] = {**policy.get("checks", {}), "residual_drift": {"enabled": False}}
    RetrainGateOperator(
        task_id="retrain_gate",
        policy=policy,
        warehouse_conn_id=DEMO_WAREHOUSE_CONN_ID,
        state_conn_id=DEMO_STATE_CONN_ID,
        as_of="{{ params.as_of }}",
        retries=2,
        retry_delay=timedelta(0),
    ) >> [EmptyOperator(task_id=branch) for branch in ("fix_features", "alert", "train")]
