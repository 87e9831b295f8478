"""A gate without review (team blue's bundle)."""

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG

from airflow_retrain_gate.demo.stories import story_policy
from airflow_retrain_gate.operators.gate import RetrainGateOperator

with DAG("churn_model", schedule=None, catchup=False, tags=["retrain-gate"]):
    gate = RetrainGateOperator(
        task_id="gate",
        policy=story_policy("dead_signal", schema="dead_signal"),
        warehouse_conn_id="retrain_gate_warehouse",
        state_conn_id="retrain_gate_state",
        as_of="2024-06-01",
    )
    gate >> [EmptyOperator(task_id=branch) for branch in ("fix_features", "alert", "train")]
