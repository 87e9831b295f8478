"""The quick start of docs/airflow.md: a team's existing DAG (load features, train) with the gate added.

``retrain_gate`` reads ``policies/fraud_scorer.yaml`` and leads to ``open_feature_ticket``, ``page_oncall`` or
``train_model``; ``skip`` skips all three. The policy maps fix_features and alert to their tasks; the
operator's ``branches`` argument maps train (and would win over the policy). ``as_of`` is left out, so the
gate judges the windows ending at the run's data_interval_end: trigger with logical date 2024-06-01, the
instant the demo data is built around.

``train_fraud_scorer_on_demand`` shows the other way to train: a DAG scheduled on the gate's asset, which
the gate updates only when it decides train.
"""

from __future__ import annotations

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG

from airflow_retrain_gate.demo.example_tasks import ingest
from airflow_retrain_gate.demo.provision import DEMO_STATE_CONN_ID, DEMO_WAREHOUSE_CONN_ID
from airflow_retrain_gate.operators.gate import RetrainGateOperator, train_asset

with DAG(dag_id="retrain_gate_quickstart", schedule=None, doc_md=__doc__, tags=["retrain-gate", "example"]):
    load_features = ingest.override(task_id="load_features")(["concept_drift"])
    open_feature_ticket = EmptyOperator(task_id="open_feature_ticket")
    page_oncall = EmptyOperator(task_id="page_oncall")
    train_model = EmptyOperator(task_id="train_model")

    gate = RetrainGateOperator(
        task_id="retrain_gate",
        policy="policies/fraud_scorer.yaml",
        warehouse_conn_id=DEMO_WAREHOUSE_CONN_ID,
        state_conn_id=DEMO_STATE_CONN_ID,
        branches={"train": "train_model"},
    )
    load_features >> gate >> [open_feature_ticket, page_oncall, train_model]

with DAG(
    dag_id="train_fraud_scorer_on_demand",
    schedule=[train_asset("fraud-scorer")],
    doc_md=__doc__,
    tags=["retrain-gate", "example"],
):
    EmptyOperator(task_id="train_model")
