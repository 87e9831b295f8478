"""Tasks the example DAGs share: stand-ins for a team's load step and for the work behind each branch."""

from __future__ import annotations

import logging

from airflow.sdk import get_current_context, task

from airflow_retrain_gate.demo.provision import DEMO_WAREHOUSE_CONN_ID, ensure_demo_warehouse
from airflow_retrain_gate.hooks.warehouse import WarehouseHook
from airflow_retrain_gate.operators.gate import XCOM_DECISION_KEY

log = logging.getLogger(__name__)

WORK_BY_BRANCH = {
    "fix_features": "Open a ticket for the feature pipeline's owners",
    "alert": "Page the model's on-call",
    "train": "Start the training job",
}


@task
def ingest(stories: list[str]) -> None:
    """The team's load step; here it makes sure the demo warehouse has the stories' tables (built on first use)."""
    url = WarehouseHook(DEMO_WAREHOUSE_CONN_ID).sqlalchemy_url
    ensure_demo_warehouse(url.render_as_string(hide_password=False), stories)


@task
def respond(branch: str, model: str | None = None, gate_task_id: str = "retrain_gate") -> str:
    """The branch's real work, stood in for by one line saying what it would do and the gate's first reason.

    The decision is the gate's XCom at this task's map index (the same model when both are mapped).
    """
    ti = get_current_context()["ti"]
    decision = ti.xcom_pull(task_ids=gate_task_id, key=XCOM_DECISION_KEY, map_indexes=ti.map_index)
    reasons = decision["reasons"]
    summary = (
        f"{WORK_BY_BRANCH[branch]}{f' for {model}' if model else ''}: {reasons[0] if reasons else branch}"
    )
    log.info("%s", summary)
    return summary
