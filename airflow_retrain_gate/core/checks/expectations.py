"""expectations: a Great Expectations suite validated against the current window (see expectations_runner)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from airflow_retrain_gate.core.checks.context import CheckInputs, outcome
from airflow_retrain_gate.core.checks.registry import CheckSettings, register
from airflow_retrain_gate.core.expectations_suite import (
    SuiteError,
    expectation_tags,
    read_suite,
    resolve_suite_path,
    suite_types_and_tags,
)
from airflow_retrain_gate.core.expectations_wording import (
    describe_expected,
    describe_value,
    expected_of,
    subject_of,
)
from airflow_retrain_gate.core.findings import Action, Finding, Status
from airflow_retrain_gate.core.profiling.expectation_result import ExpectationResult
from airflow_retrain_gate.core.profiling.kinds import ProfileKind

ExpectationAction = Literal["none", "fix_features", "alert"]


class ExpectationsSettings(CheckSettings):
    """The suite to run (a GX suite JSON file or inline) and the action of each failed expectation."""

    suite: str | dict[str, Any] | None = Field(
        default=None,
        description="Path of a GX 1.x suite JSON file (relative to the policy file), or the suite inline.",
    )
    max_rows: int = Field(
        default=500_000,
        ge=1,
        description="DuckDB and in-memory SQLite only: GX validates the current window in pandas, reading "
        "at most this many rows; a larger window is an error, never a silent sample.",
    )
    action_by_type: dict[str, ExpectationAction] = Field(
        default_factory=dict,
        description="Action of a failed expectation by type, e.g. {expect_column_mean_to_be_between: alert}.",
    )
    action_by_tag: dict[str, ExpectationAction] = Field(
        default_factory=dict,
        description="Action of a failed expectation by a tag in its meta.tags; wins over action_by_type.",
    )

    @field_validator("suite")
    @classmethod
    def _readable_suite(
        cls, suite: str | dict[str, Any] | None, info: ValidationInfo
    ) -> str | dict[str, Any] | None:
        if isinstance(suite, str):
            base_dir = (info.context or {}).get("base_dir")
            suite = str(resolve_suite_path(suite, Path(base_dir) if base_dir else None))
        if suite is not None:
            try:
                read_suite(suite)
            except SuiteError as error:
                raise ValueError(error.problem) from None
        return suite

    @field_validator("action_by_type", "action_by_tag")
    @classmethod
    def _names_in_suite(
        cls, actions: dict[str, ExpectationAction], info: ValidationInfo
    ) -> dict[str, ExpectationAction]:
        suite = info.data.get("suite")
        if not actions or suite is None:
            return actions
        types, tags = suite_types_and_tags(read_suite(suite))
        what, known = ("type", types) if info.field_name == "action_by_type" else ("tag", tags)
        for name in actions:
            if name not in known:
                listed = ", ".join(sorted(known)) or "none"
                raise ValueError(f"{name}: no expectation in the suite has this {what} (it has: {listed})")
        return actions


def action_for(result: ExpectationResult, settings: ExpectationsSettings, default: Action) -> Action:
    """The action of a failed expectation: by its first mapped tag, else by its type, else the check's."""
    for tag in expectation_tags(result.meta):
        if tag in settings.action_by_tag:
            return Action(settings.action_by_tag[tag])
    return Action(settings.action_by_type.get(result.type, default.value))


def _pandas_note(validated_with: dict[str, Any]) -> str:
    if validated_with["engine"] != "pandas":
        return ""
    return (
        f" Validated in pandas on the {validated_with['rows']:,} rows of the current window read from "
        f"{validated_with['dialect']} (row cap checks.expectations.max_rows: {validated_with['max_rows']:,})."
    )


def _measured(
    expected: dict[str, Any], gx_result: dict[str, Any]
) -> tuple[str, str | None, float | None, float | None]:
    """What a failed expectation saw, as words, and as the finding's statistic, value and threshold."""
    wanted = describe_expected({key: item for key, item in expected.items() if key != "mostly"})
    if gx_result.get("unexpected_percent") is not None:
        share, allowed = gx_result["unexpected_percent"] / 100, 1 - expected.get("mostly", 1.0)
        tolerance = f"allowed {allowed:.2%}" if allowed else "none allowed"
        detail = f"{share:.2%} of {gx_result.get('element_count', 0):,} rows unexpected ({tolerance})"
        detail += f"; expected {wanted}" if wanted else ""
        examples = [
            example for example in gx_result.get("partial_unexpected_list") or [] if example is not None
        ]
        detail += f"; e.g. {describe_value(examples, 5)}" if examples else ""
        return detail, "unexpected_share", share, allowed
    observed = gx_result.get("observed_value")
    detail = f"observed {describe_value(observed)}" + (f", expected {wanted}" if wanted else "")
    if isinstance(observed, int | float) and not isinstance(observed, bool):
        return detail, "observed_value", float(observed), None
    return detail, None, None, None


def _finding(
    table: str, result: ExpectationResult, settings: ExpectationsSettings, default: Action
) -> Finding:
    gx_result, subject, expected = (
        result.result,
        subject_of(table, result.kwargs),
        expected_of(result.kwargs),
    )
    detail, statistic, value, threshold = _measured(expected, gx_result)
    evidence: dict[str, Any] = {
        "suite": result.suite,
        "expectation_type": result.type,
        "column": result.kwargs.get("column"),
        "observed_value": gx_result.get("observed_value"),
        "expected": expected,
        "unexpected_share": value if statistic == "unexpected_share" else None,
        "meta": result.meta,
        "gx_result": gx_result,
        "validated_with": result.validated_with,
    }
    prefix = f"Great Expectations suite '{result.suite}': {result.type} on {subject}"
    if result.error is not None:
        message = f"{prefix} could not be evaluated: {result.error}"
        return outcome("expectations", subject, Status.ERROR, message, evidence=evidence)
    action = action_for(result, settings, default)
    advice = " Fix the feature pipeline before training." if action is Action.FIX_FEATURES else ""
    return outcome(
        "expectations",
        subject,
        Status.FAIL,
        f"{prefix} failed: {detail}.{advice}{_pandas_note(result.validated_with)}",
        action=action,
        statistic=statistic,
        value=value,
        threshold=threshold,
        evidence=evidence,
    )


def _passed(table: str, results: tuple[ExpectationResult, ...]) -> Finding:
    validated_with = results[0].validated_with
    how = "a SQL query asset" if validated_with["engine"] == "sql" else "pandas"
    return outcome(
        "expectations",
        table,
        Status.PASS,
        f"Great Expectations suite '{results[0].suite}' passed: {len(results)} expectations on the "
        f"current window ({how} on {validated_with['dialect']}).{_pandas_note(validated_with)}",
        statistic="expectations_passed",
        value=float(len(results)),
        evidence={
            "suite": results[0].suite,
            "expectations": [result.type for result in results],
            "validated_with": validated_with,
        },
    )


@register(
    "expectations",
    settings=ExpectationsSettings,
    reads=(ProfileKind.EXPECTATIONS,),
    action=Action.FIX_FEATURES,
    summary="A Great Expectations suite passes on the current window of the features table.",
)
def check_expectations(inputs: CheckInputs, settings: ExpectationsSettings) -> list[Finding]:
    """One finding per failed expectation, or one pass for the whole suite; nothing without a suite.

    A suite is opt-in configuration, not a table to map: a policy without one has nothing to report here.
    """
    table = inputs.policy.tables.features.subject
    if settings.suite is None:
        return []
    results = inputs.profiles.expectation_results
    default = inputs.policy.action_for("expectations")
    failed = [_finding(table, result, settings, default) for result in results if not result.success]
    return failed or [_passed(table, results)]
