"""RetrainGateDecisionLink: the task instance's button to its decision page in the retrain gate UI plugin."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

from airflow.sdk import BaseOperatorLink, conf

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator
    from airflow.sdk.types import TaskInstanceKey

DECISION_PAGE = "retrain-gate/decision"


def decision_url(dag_id: str, run_id: str, task_id: str, map_index: int) -> str:
    """`{[api] base_url}/retrain-gate/decision/{dag_id}/{run_id}/{task_id}?map_index=...`.

    Without a configured base_url the link is relative to the Airflow UI's host.
    """
    base_url = (conf.get("api", "base_url", fallback="") or "").rstrip("/")
    path = "/".join(quote(part, safe="") for part in (dag_id, run_id, task_id))
    return f"{base_url}/{DECISION_PAGE}/{path}?map_index={map_index}"


class RetrainGateDecisionLink(BaseOperatorLink):
    """Links a gate task instance to the page showing its decision and evidence."""

    name = "Retrain gate decision"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        """The decision page URL of this task instance (computed on the worker when the task finishes)."""
        return decision_url(ti_key.dag_id, ti_key.run_id, ti_key.task_id, ti_key.map_index)
