"""Gates without review (team blue's bundle): one gate, a gate mapped over two models' policies whose map
index shows the policy name, and a gate whose policy file was removed, which fails without deciding."""

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG

from airflow_retrain_gate.demo.stories import story_policy
from airflow_retrain_gate.operators.gate import RetrainGateOperator

CONNECTIONS = {"warehouse_conn_id": "retrain_gate_warehouse", "state_conn_id": "retrain_gate_state"}

with DAG("churn_model", schedule=None, catchup=False, tags=["retrain-gate"]):
    gate = RetrainGateOperator(
        task_id="gate",
        policy=story_policy("dead_signal", schema="dead_signal"),
        as_of="2024-06-01",
        **CONNECTIONS,
    )
    gate >> [EmptyOperator(task_id=branch) for branch in ("fix_features", "alert", "train")]
    RetrainGateOperator.partial(
        task_id="models", as_of="2024-06-01", map_index_template="{{ task.policy.name }}", **CONNECTIONS
    ).expand(policy=[story_policy(story, schema=story) for story in ("healthy", "segment_mix_shift")])
    RetrainGateOperator(
        task_id="retired_gate",
        policy="{{ 'policies/retired_model.yaml' }}",
        as_of="2024-06-01",
        **CONNECTIONS,
    )
