"""One platform policy, many models: each model's gate applies the platform team's thresholds, windows and
error handling (``policies/platform.yaml``) to its own tables, and each model takes its own branch.

The gate and its branch tasks are mapped over the models (dynamic task mapping): adding a model is one
line in ``MODELS``. Here each model's tables are one story's schema of the demo warehouse.

The branch tasks are mapped over the same list as the gate, so map index i of each is model i. (A mapped
task group would read better, but Airflow 3.3 does not skip branches inside mapped task groups:
apache/airflow#67265.)
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG

from airflow_retrain_gate.demo.catalog import DEMO_AS_OF
from airflow_retrain_gate.demo.example_tasks import WORK_BY_BRANCH, ingest, respond
from airflow_retrain_gate.demo.provision import DEMO_STATE_CONN_ID, DEMO_WAREHOUSE_CONN_ID
from airflow_retrain_gate.demo.stories import story_policy
from airflow_retrain_gate.operators.gate import RetrainGateOperator

MODELS = {
    "fraud-eu": "healthy",
    "fraud-us": "concept_drift",
    "fraud-apac": "dead_signal",
    "fraud-latam": "trust_decay",
}
"""Model name -> the warehouse schema holding its features, predictions and outcomes."""


def model_policy(model: str, schema: str) -> dict[str, Any]:
    """A model's policy: its name and tables; everything else comes from the platform policy."""
    return {
        "extends": "policies/platform.yaml",
        "name": model,
        "tables": story_policy(schema, schema=schema)["tables"],
    }


with DAG(
    dag_id="retrain_gate_platform_policy",
    description="One platform policy applied to several models, each with its own branch",
    doc_md=__doc__,
    schedule=None,
    params={"as_of": DEMO_AS_OF.isoformat()},
    tags=["retrain-gate", "example", "platform"],
):
    gate = RetrainGateOperator.partial(
        task_id="retrain_gate",
        warehouse_conn_id=DEMO_WAREHOUSE_CONN_ID,
        state_conn_id=DEMO_STATE_CONN_ID,
        as_of="{{ params.as_of }}",
        map_index_template="{{ task.policy['name'] }}",
    ).expand(policy=[model_policy(model, schema) for model, schema in MODELS.items()])
    ingest(list(MODELS.values())) >> gate
    for branch in WORK_BY_BRANCH:
        gate >> respond.override(task_id=branch, map_index_template="{{ task.op_kwargs['model'] }}").partial(
            branch=branch
        ).expand(model=list(MODELS))
