"""A sensor in reschedule mode on late features: it frees its worker slot between pokes, then gives up."""

from __future__ import annotations

from airflow.sdk import DAG

from airflow_retrain_gate.demo.catalog import DEMO_AS_OF
from airflow_retrain_gate.demo.provision import DEMO_WAREHOUSE_CONN_ID
from airflow_retrain_gate.demo.stories import story_policy
from airflow_retrain_gate.sensors.readiness import FeatureFreshnessSensor

with DAG(dag_id="sensor_modes", schedule=None, tags=["retrain-gate", "test"]):
    FeatureFreshnessSensor(
        task_id="rescheduled_wait_for_features",
        policy=story_policy("pipeline_lag", schema="pipeline_lag"),
        warehouse_conn_id=DEMO_WAREHOUSE_CONN_ID,
        as_of=DEMO_AS_OF.isoformat(),
        mode="reschedule",
        poke_interval=1,
        timeout=3,
        soft_fail=True,
    )
