"""Runs a Great Expectations suite on the current window (imported only when a policy uses the check)."""

from __future__ import annotations

from typing import Any

from airflow_retrain_gate.core.policy import Policy
from airflow_retrain_gate.core.timeframes import TimeWindow
from airflow_retrain_gate.core.warehouse import Warehouse, WarehouseError


def run_expectations(warehouse: Warehouse, policy: Policy, window: TimeWindow) -> tuple[dict[str, Any], ...]:
    """Validate the policy's suite; returns one result per expectation."""
    raise WarehouseError("expectations: Great Expectations validation is not implemented yet")
