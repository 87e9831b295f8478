"""A reviewed gate nobody answers: after `response_timeout` the review takes its timeout branch (alert)."""

from __future__ import annotations

from datetime import timedelta

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG

from airflow_retrain_gate.demo.catalog import DEMO_AS_OF
from airflow_retrain_gate.demo.provision import DEMO_STATE_CONN_ID, DEMO_WAREHOUSE_CONN_ID
from airflow_retrain_gate.demo.stories import story_policy
from airflow_retrain_gate.operators.gate import RetrainGateOperator
from airflow_retrain_gate.operators.review import RetrainGateReviewOperator

with DAG(dag_id="gate_review_times_out", schedule=None, tags=["retrain-gate", "test"]):
    gate = RetrainGateOperator(
        task_id="retrain_gate",
        policy={**story_policy("concept_drift", schema="concept_drift"), "name": "review-timeout"},
        warehouse_conn_id=DEMO_WAREHOUSE_CONN_ID,
        state_conn_id=DEMO_STATE_CONN_ID,
        as_of=DEMO_AS_OF.isoformat(),
        branches={"fix_features": "review", "alert": "review", "train": "review"},
    )
    review = RetrainGateReviewOperator(
        task_id="review",
        gate_task_id="retrain_gate",
        state_conn_id=DEMO_STATE_CONN_ID,
        branches={"fix_features": "fix_inputs", "alert": "page_oncall", "train": "train_model"},
        response_timeout=timedelta(seconds=2),
    )
    gate >> review >> [EmptyOperator(task_id=task) for task in ("fix_inputs", "page_oncall", "train_model")]
