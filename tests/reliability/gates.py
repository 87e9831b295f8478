"""Helpers the reliability tests share: the story that trains when its data is sound, and one gate run."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow_retrain_gate.core import Decision, Status, Warehouse, parse_policy, run_gate
from airflow_retrain_gate.demo.catalog import DEMO_AS_OF
from airflow_retrain_gate.demo.stories import story_policy

TRAIN_STORY = "concept_drift"
"""With sound data this story's gate decides `train`; each bad input breaks it in one way."""
ROWS_PER_DAY = 200


def train_policy(prefix: str = "", schema: str | None = None) -> dict[str, Any]:
    """The policy of the train story's tables `<schema>.<prefix><table>`."""
    return story_policy(TRAIN_STORY, prefix=prefix, schema=schema)


def diagnose(
    warehouse: Warehouse | str, policy: dict[str, Any], as_of: datetime | str = DEMO_AS_OF
) -> Decision:
    """Validate the policy and run the gate once."""
    target = warehouse if isinstance(warehouse, Warehouse) else Warehouse(warehouse)
    return run_gate(parse_policy(policy), target, as_of)


def messages(decision: Decision, *statuses: Status) -> list[str]:
    """The messages of the decision's findings with one of `statuses`."""
    return [finding.message for finding in decision.findings if finding.status in statuses]
