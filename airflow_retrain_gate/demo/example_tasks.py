"""Tasks the example DAGs share: stand-ins for a team's load step and for the work behind each branch."""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk import task

from airflow_retrain_gate.demo.provision import DEMO_WAREHOUSE_CONN_ID, ensure_demo_warehouse
from airflow_retrain_gate.hooks.warehouse import WarehouseHook

log = logging.getLogger(__name__)

WORK_BY_BRANCH = {
    "fix_features": "Open a ticket for the feature pipeline's owners",
    "alert": "Page the model's on-call",
    "train": "Start the training job",
}


@task
def ingest() -> None:
    """The team's load step; here it makes sure the demo warehouse has its tables (built on first use)."""
    url = WarehouseHook(DEMO_WAREHOUSE_CONN_ID).sqlalchemy_url
    ensure_demo_warehouse(url.render_as_string(hide_password=False))


@task
def respond(decision: dict[str, Any], branch: str) -> str:
    """The branch's real work, stood in for by one line saying what it would do and the gate's first reason."""
    reasons = decision["reasons"]
    summary = f"{WORK_BY_BRANCH[branch]}: {reasons[0] if reasons else decision['branch']}"
    log.info("%s", summary)
    return summary
