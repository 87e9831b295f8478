"""One DAG per story of the design, in the shape teams already run: ingest, wait for fresh features and
matured labels, let the gate decide, then fix the features, alert a person or retrain (or nothing: skip).

Each DAG reads one story's schema of the demo warehouse (connection ``retrain_gate_demo``). The demo data
is built around 2024-06-01, so the DAGs pass that instant as ``as_of`` (a param you can change when
triggering); in your own DAGs leave ``as_of`` out: it defaults to the run's data_interval_end.
"""

from __future__ import annotations

from airflow.sdk import DAG, TriggerRule

from airflow_retrain_gate.demo.catalog import DEMO_AS_OF
from airflow_retrain_gate.demo.example_tasks import WORK_BY_BRANCH, ingest, respond
from airflow_retrain_gate.demo.provision import DEMO_STATE_CONN_ID, DEMO_WAREHOUSE_CONN_ID
from airflow_retrain_gate.demo.stories import STORIES, Story, story_policy
from airflow_retrain_gate.operators.gate import RetrainGateOperator
from airflow_retrain_gate.sensors.readiness import FeatureFreshnessSensor, LabelMaturitySensor

AS_OF = "{{ params.as_of }}"


def story_dag(story: Story) -> DAG:
    """The DAG of one story: ingest >> [wait_for_features, wait_for_labels] >> retrain_gate >> branches."""
    policy = story_policy(story.name, schema=story.name)
    with DAG(
        dag_id=f"retrain_gate_{story.name}",
        description=f"{story.title} (the gate should answer {story.branch})",
        doc_md=__doc__,
        schedule=None,
        params={"as_of": DEMO_AS_OF.isoformat()},
        tags=["retrain-gate", "example", story.branch],
    ) as dag:
        # Production sensors wait hours; the demo's data never changes, so they give up after seconds.
        # soft_fail skips a sensor that gives up, and the gate (trigger rule none_failed) still runs and
        # reports the late features as fix_features.
        waiting = {
            "policy": policy,
            "warehouse_conn_id": DEMO_WAREHOUSE_CONN_ID,
            "as_of": AS_OF,
            "poke_interval": 5,
            "timeout": 10,
            "soft_fail": True,
        }
        features = FeatureFreshnessSensor(task_id="wait_for_features", deferrable=True, **waiting)
        labels = LabelMaturitySensor(task_id="wait_for_labels", mode="reschedule", **waiting)
        gate = RetrainGateOperator(
            task_id="retrain_gate",
            policy=policy,
            warehouse_conn_id=DEMO_WAREHOUSE_CONN_ID,
            state_conn_id=DEMO_STATE_CONN_ID,
            as_of=AS_OF,
            trigger_rule=TriggerRule.NONE_FAILED,
        )
        ingest([story.name]) >> [features, labels] >> gate
        for branch in WORK_BY_BRANCH:
            gate >> respond.override(task_id=branch)(branch)
    return dag


for _story in STORIES.values():
    globals()[f"retrain_gate_{_story.name}"] = story_dag(_story)
