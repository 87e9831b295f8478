"""A gate whose state database refuses writes: a PostgreSQL role with SELECT only (the test defines the connection)."""

from __future__ import annotations

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG

from airflow_retrain_gate.demo.catalog import DEMO_AS_OF
from airflow_retrain_gate.demo.provision import DEMO_WAREHOUSE_CONN_ID
from airflow_retrain_gate.demo.stories import story_policy
from airflow_retrain_gate.operators.gate import RetrainGateOperator

READ_ONLY_STATE_CONN_ID = "read_only_state"
"""Defined by the test: PostgreSQL as a role that may only read."""

with DAG(dag_id="gate_read_only_state", schedule=None, tags=["retrain-gate", "test"]):
    RetrainGateOperator(
        task_id="retrain_gate",
        # No cooldown: the cooldown reads the decision log, which this role cannot create.
        policy={
            **story_policy("concept_drift", schema="concept_drift"),
            "name": "read-only-state",
            "cooldown": None,
        },
        warehouse_conn_id=DEMO_WAREHOUSE_CONN_ID,
        state_conn_id=READ_ONLY_STATE_CONN_ID,
        as_of=DEMO_AS_OF.isoformat(),
        emit_train_asset=False,  # its train is no example's: leave the retrain-gate/ assets to the examples
    ) >> [EmptyOperator(task_id=branch) for branch in ("fix_features", "alert", "train")]
