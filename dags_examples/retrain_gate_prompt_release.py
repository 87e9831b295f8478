"""Fine-tune an assistant on its thumbs-up feedback, unless the feedback moved because a prompt shipped.

``retrain_gate`` reads ``policies/assistant_feedback.yaml``, which names the prompt version each answer was
served with (``versions: [prompt_version]``). In the demo data prompt v12 takes over on 2024-05-27 and the
feedback rate of its answers falls: the gate attributes the fall to the release (change_attribution) and takes
``review_prompt_release`` instead of ``fine_tune``, which would teach the model the new prompt's effect as if
users had changed. A deploy row in the events table on the day the shift starts counts the same way.

The demo data is built around 2024-06-01, so ``as_of`` is that instant (a param you can change when
triggering); in your own DAG leave ``as_of`` out: it defaults to the run's data_interval_end.
"""

from __future__ import annotations

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG

from airflow_retrain_gate.demo.catalog import DEMO_AS_OF
from airflow_retrain_gate.demo.example_tasks import ingest
from airflow_retrain_gate.demo.provision import DEMO_STATE_CONN_ID, DEMO_WAREHOUSE_CONN_ID
from airflow_retrain_gate.operators.gate import RetrainGateOperator

with DAG(
    dag_id="retrain_gate_feedback_fine_tune",
    description="Fine-tune on feedback unless a prompt release explains the shift",
    doc_md=__doc__,
    schedule=None,
    params={"as_of": DEMO_AS_OF.isoformat()},
    tags=["retrain-gate", "example", "llm"],
):
    load_feedback = ingest.override(task_id="load_feedback")(["prompt_release"])
    gate = RetrainGateOperator(
        task_id="retrain_gate",
        policy="policies/assistant_feedback.yaml",
        warehouse_conn_id=DEMO_WAREHOUSE_CONN_ID,
        state_conn_id=DEMO_STATE_CONN_ID,
        as_of="{{ params.as_of }}",
    )
    (
        load_feedback
        >> gate
        >> [
            EmptyOperator(task_id="fix_feedback_pipeline"),
            EmptyOperator(task_id="review_prompt_release"),
            EmptyOperator(task_id="fine_tune"),
        ]
    )
