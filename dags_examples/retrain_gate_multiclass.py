"""Retrain a three-class model (legit / fraud / chargeback) when one class's relation to the inputs changes.

``retrain_gate`` reads ``policies/payment_outcomes.yaml``: the label's classes and a probability column per
class. The gate judges each class against the rest, so a change in one class is not averaged away by the others,
and its findings name the class. In the demo data payments end legit more often at every score from 2024-05-25
on (and so fraud and chargeback less often): the gate decides ``train``.

The demo data is built around 2024-06-01, so ``as_of`` is that instant (a param you can change when
triggering); in your own DAG leave ``as_of`` out: it defaults to the run's data_interval_end.
"""

from __future__ import annotations

from airflow.sdk import DAG

from airflow_retrain_gate.demo.catalog import DEMO_AS_OF
from airflow_retrain_gate.demo.example_tasks import WORK_BY_BRANCH, ingest, respond
from airflow_retrain_gate.demo.provision import DEMO_STATE_CONN_ID, DEMO_WAREHOUSE_CONN_ID
from airflow_retrain_gate.operators.gate import RetrainGateOperator

with DAG(
    dag_id="retrain_gate_multiclass",
    description="Retrain a multiclass model when one class changes (the gate should answer train)",
    doc_md=__doc__,
    schedule=None,
    params={"as_of": DEMO_AS_OF.isoformat()},
    tags=["retrain-gate", "example", "multiclass"],
):
    gate = RetrainGateOperator(
        task_id="retrain_gate",
        policy="policies/payment_outcomes.yaml",
        warehouse_conn_id=DEMO_WAREHOUSE_CONN_ID,
        state_conn_id=DEMO_STATE_CONN_ID,
        as_of="{{ params.as_of }}",
    )
    ingest.override(task_id="load_payments")(["multiclass_concept_drift"]) >> gate
    for branch in WORK_BY_BRANCH:
        gate >> respond.override(task_id=branch)(branch)
