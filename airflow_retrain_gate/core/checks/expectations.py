"""expectations: a Great Expectations suite validated against the current window (see expectations_runner)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from airflow_retrain_gate.core.checks.context import CheckInputs, outcome
from airflow_retrain_gate.core.checks.registry import CheckSettings, register
from airflow_retrain_gate.core.findings import Action, Finding, Status


class ExpectationsSettings(CheckSettings):
    """The suite to validate: a GX suite JSON file (relative to the policy file) or an inline suite."""

    suite: str | dict[str, Any] | None = Field(default=None, description="Path of a GX suite JSON, or the suite inline.")


@register(
    "expectations",
    settings=ExpectationsSettings,
    reads=("expectations",),
    action=Action.FIX_FEATURES,
    summary="A Great Expectations suite passes on the current window of the features table.",
)
def check_expectations(inputs: CheckInputs, settings: ExpectationsSettings) -> list[Finding]:
    """One finding per failed expectation, or one pass."""
    table = inputs.policy.tables.features.table
    if settings.suite is None:
        return [outcome("expectations", table, Status.INSUFFICIENT_DATA, "No expectation suite configured (checks.expectations.suite).")]
    return [outcome("expectations", table, Status.ERROR, "Great Expectations validation is not available yet.")]
