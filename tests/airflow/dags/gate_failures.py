"""Gates that cannot run as configured, and one that crashes after deciding: what the task does then."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, Context

from airflow_retrain_gate.demo.catalog import DEMO_AS_OF
from airflow_retrain_gate.demo.provision import DEMO_STATE_CONN_ID, DEMO_WAREHOUSE_CONN_ID
from airflow_retrain_gate.demo.stories import story_policy
from airflow_retrain_gate.operators.gate import RetrainGateOperator

UNREACHABLE_CONN_ID = "unreachable_warehouse"
"""Defined by the test: PostgreSQL on a closed port, with a password."""


class GateThatCrashesOnItsFirstTry(RetrainGateOperator):
    """Decides, records and publishes, then fails its first try, as a worker lost after the decision would."""

    def execute(self, context: Context) -> Any:
        try:
            return super().execute(context)
        finally:
            if context["ti"].try_number == 1:
                raise RuntimeError("worker lost after the gate decided")


def gate_dag(
    dag_id: str, gate: type[RetrainGateOperator] = RetrainGateOperator, **gate_arguments: Any
) -> DAG:
    """A DAG of one gate and its three branch tasks, as of the demo instant."""
    with DAG(dag_id=dag_id, schedule=None, tags=["retrain-gate", "test"]) as dag:
        arguments = {"state_conn_id": DEMO_STATE_CONN_ID, "as_of": DEMO_AS_OF.isoformat(), **gate_arguments}
        retrain_gate = gate(task_id="retrain_gate", **arguments)
        retrain_gate >> [EmptyOperator(task_id=branch) for branch in ("fix_features", "alert", "train")]
    return dag


gate_dag(
    "gate_broken_policy",
    policy="policies/{{ 'missing_timestamp.yaml' }}",  # templated: checked when the task runs
    warehouse_conn_id=DEMO_WAREHOUSE_CONN_ID,
)
gate_dag(
    "gate_unknown_connection",
    policy=story_policy("healthy", schema="healthy"),
    warehouse_conn_id="no_such_db",
)
gate_dag(
    "gate_unreachable_warehouse",
    policy=story_policy("concept_drift", schema="concept_drift"),
    warehouse_conn_id=UNREACHABLE_CONN_ID,
)
gate_dag(
    "gate_crashes_after_deciding",
    gate=GateThatCrashesOnItsFirstTry,
    policy={**story_policy("concept_drift", schema="concept_drift"), "name": "crash-test"},
    warehouse_conn_id=DEMO_WAREHOUSE_CONN_ID,
    retries=1,
    retry_delay=timedelta(0),
)
gate_dag(
    "gate_unknown_branch_task",
    policy=story_policy("concept_drift", schema="concept_drift"),
    warehouse_conn_id=DEMO_WAREHOUSE_CONN_ID,
    branches={"train": "train_the_model"},
)
with DAG(dag_id="gate_without_an_alert_task", schedule=None, tags=["retrain-gate", "test"]):
    RetrainGateOperator(
        task_id="retrain_gate",
        policy=story_policy("trust_decay", schema="trust_decay"),
        warehouse_conn_id=DEMO_WAREHOUSE_CONN_ID,
        state_conn_id=DEMO_STATE_CONN_ID,
        as_of=DEMO_AS_OF.isoformat(),
    ) >> EmptyOperator(task_id="train")
