"""Gates under faults, run by tests/reliability/test_airflow_faults.py with `dag.test()`.

The warehouse is the train story in PostgreSQL schema `$RELIABILITY_SCHEMA`; every connection carries a
password (PostgreSQL on 127.0.0.1 trusts the user, so it is accepted and ignored), which must never show.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, Context

from airflow_retrain_gate.demo.catalog import DEMO_AS_OF
from airflow_retrain_gate.demo.stories import story_policy
from airflow_retrain_gate.operators.gate import RetrainGateOperator

SCHEMA = os.environ.get("RELIABILITY_SCHEMA", "public")


class GateLostAfterDeciding(RetrainGateOperator):
    """Decides, records and pushes its decision, then its first try fails, as a lost worker's would.

    (Not `post_execute`: a branch operator's execute ends by raising DownstreamTasksSkipped, so the hook
    never runs.)
    """

    def execute(self, context: Context) -> Any:
        try:
            return super().execute(context)
        finally:
            if context["ti"].try_number == 1:
                raise RuntimeError("worker lost after the gate decided")


def gate_dag(
    dag_id: str, gate: type[RetrainGateOperator] = RetrainGateOperator, **gate_arguments: Any
) -> DAG:
    """One gate over the train story, retried once at once, and its three branch tasks."""
    with DAG(dag_id=dag_id, schedule=None, tags=["retrain-gate", "reliability"]) as dag:
        arguments = {
            "policy": story_policy("concept_drift", schema=SCHEMA) | {"name": dag_id},
            "warehouse_conn_id": "reliability_warehouse",
            "state_conn_id": "reliability_state",
            "as_of": DEMO_AS_OF.isoformat(),
            "retries": 1,
            "retry_delay": timedelta(0),
            **gate_arguments,
        }
        gate(task_id="retrain_gate", **arguments) >> [
            EmptyOperator(task_id=branch) for branch in ("fix_features", "alert", "train")
        ]
    return dag


gate_dag("reliability_lost_after_deciding", gate=GateLostAfterDeciding)
gate_dag("reliability_warehouse_unreachable", warehouse_conn_id="reliability_unreachable")
gate_dag("reliability_state_down", state_conn_id="reliability_unreachable")
slow = story_policy("concept_drift", schema=SCHEMA) | {"name": "reliability_slow_warehouse"}
slow["tables"]["predictions"]["table"] = f"{SCHEMA}.slow_predictions"  # sleeps 3 s per query
gate_dag("reliability_slow_warehouse", policy=slow, warehouse_conn_id="reliability_slow_warehouse")
