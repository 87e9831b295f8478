"""Three reviewed gates that decide train, and the training DAGs scheduled on their assets.

Each gate leaves the train asset to its review (``emit_train_asset=False``); a test answers the reviews through
Airflow's Human-in-the-loop API: on-call confirms one, overrides another to skip, and leaves the third unanswered
past its response timeout. The confirmed gate waits for a freshness sensor whose 1-second limit the data misses
(the policy allows a day): the gate records it.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, Asset, TriggerRule

from airflow_retrain_gate.demo.catalog import DEMO_AS_OF
from airflow_retrain_gate.demo.provision import DEMO_STATE_CONN_ID, DEMO_WAREHOUSE_CONN_ID
from airflow_retrain_gate.demo.stories import story_policy
from airflow_retrain_gate.operators.gate import RetrainGateOperator
from airflow_retrain_gate.operators.review import RetrainGateReviewOperator
from airflow_retrain_gate.sensors.readiness import FeatureFreshnessSensor

REVIEWED = ("fix_features", "alert", "train")
ASSETS = {
    pipeline: Asset(f"reviewed-gates/{pipeline}") for pipeline in ("confirmed", "overridden", "unanswered")
}


def reviewed_gate(pipeline: str) -> RetrainGateOperator:
    """gate_<pipeline> >> review_<pipeline> >> <branch>_<pipeline>, the review emitting the train asset."""
    gate = RetrainGateOperator(
        task_id=f"gate_{pipeline}",
        policy={**story_policy("concept_drift", schema="concept_drift"), "name": f"reviewed-{pipeline}"},
        warehouse_conn_id=DEMO_WAREHOUSE_CONN_ID,
        state_conn_id=DEMO_STATE_CONN_ID,
        as_of=DEMO_AS_OF.isoformat(),
        branches={branch: f"review_{pipeline}" for branch in REVIEWED},
        emit_train_asset=False,
        trigger_rule=TriggerRule.NONE_FAILED,
    )
    review = RetrainGateReviewOperator(
        task_id=f"review_{pipeline}",
        gate_task_id=gate.task_id,
        state_conn_id=DEMO_STATE_CONN_ID,
        branches={branch: f"{branch}_{pipeline}" for branch in REVIEWED},
        train_asset=ASSETS[pipeline],
        response_timeout=timedelta(seconds=1) if pipeline == "unanswered" else None,
    )
    gate >> review >> [EmptyOperator(task_id=f"{branch}_{pipeline}") for branch in REVIEWED]
    return gate


with DAG(dag_id="reviewed_gates", schedule=None, tags=["retrain-gate", "test"]):
    FeatureFreshnessSensor(
        task_id="wait_for_features",
        policy=story_policy("concept_drift", schema="concept_drift"),
        warehouse_conn_id=DEMO_WAREHOUSE_CONN_ID,
        as_of=DEMO_AS_OF.isoformat(),
        max_lag="1s",
        timeout=0,
        soft_fail=True,
    ) >> reviewed_gate("confirmed")
    reviewed_gate("overridden")
    reviewed_gate("unanswered")

for _pipeline, _asset in ASSETS.items():
    with DAG(dag_id=f"train_{_pipeline}", schedule=[_asset], tags=["retrain-gate", "test"]):
        EmptyOperator(task_id="train_model")
