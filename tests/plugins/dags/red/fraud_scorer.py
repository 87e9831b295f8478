"""A gate whose non-skip decisions a person reviews before the DAG acts (team red's bundle)."""

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG

from airflow_retrain_gate.demo.stories import story_policy
from airflow_retrain_gate.operators.gate import RetrainGateOperator
from airflow_retrain_gate.operators.review import RetrainGateReviewOperator

REVIEWED = ("fix_features", "alert", "train")

with DAG("fraud_scorer", schedule=None, catchup=False, tags=["retrain-gate"]):
    gate = RetrainGateOperator(
        task_id="gate",
        policy=story_policy("concept_drift", schema="concept_drift"),
        warehouse_conn_id="retrain_gate_warehouse",
        state_conn_id="retrain_gate_state",
        as_of="2024-06-01",
        branches={branch: "review" for branch in REVIEWED},
        emit_train_asset=False,  # the review emits the train asset, and only when the answer is train
    )
    review = RetrainGateReviewOperator(
        task_id="review",
        gate_task_id="gate",
        state_conn_id="retrain_gate_state",
        branches={branch: branch for branch in REVIEWED},
    )
    gate >> review >> [EmptyOperator(task_id=branch) for branch in REVIEWED]
