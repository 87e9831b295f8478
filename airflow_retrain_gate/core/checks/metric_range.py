"""Metrics computed from aggregates keep their range: an AUC outside [0, 1], a negative rate or a NaN is an
error of the check that computed it, never evidence (it means the labels or the arithmetic broke)."""

from __future__ import annotations

import math

import numpy as np

from airflow_retrain_gate.core.checks.context import CheckInputs, outcome
from airflow_retrain_gate.core.findings import Finding, Status
from airflow_retrain_gate.core.profiling.profiles import OutcomeProfile

Bounds = tuple[float, float, float]
"""(value, lowest valid value, highest valid value)."""


def out_of_range(metrics: dict[str, Bounds]) -> str | None:
    """The first metric that is not finite or lies outside its range, described; None when all are valid."""
    for name, (value, low, high) in metrics.items():
        if not math.isfinite(value) or not low <= value <= high:
            return f"{name} came out {value:.4g}, outside [{low:g}, {high:g}]"
    return None


def binary_label_bounds(*profiles: OutcomeProfile) -> dict[str, Bounds]:
    """What 0/1 labels guarantee in every score bin: 0 <= positives <= matured, and a sum of squares equal
    to the sum (y * y = y only for 0 and 1)."""
    bounds: dict[str, Bounds] = {}
    for profile in profiles:
        positives, matured = profile.by_bin("label_sum"), profile.by_bin("matured")
        gap = float(np.abs(profile.by_bin("label_sq") - positives).max(initial=0.0))
        name = profile.window.name
        bounds[f"the fewest positives of a {name} score bin"] = (
            float(positives.min(initial=0.0)),
            0.0,
            math.inf,
        )
        bounds[f"the fewest negatives of a {name} score bin"] = (
            float((matured - positives).min(initial=0.0)),
            0.0,
            math.inf,
        )
        bounds[f"the {name} labels' sum of squares minus their sum (0 for 0/1 labels)"] = (
            gap,
            0.0,
            1e-6 * (1.0 + float(matured.sum())),
        )
    return bounds


def label_column(inputs: CheckInputs) -> str:
    """The label column as ``table.column``, for messages."""
    outcomes = inputs.policy.tables.outcomes
    return f"{outcomes.subject}.{outcomes.label}" if outcomes else "the label column"


def metric_error(inputs: CheckInputs, check: str, subject: str, problem: str) -> Finding:
    """An error finding for a metric out of its range, naming the label column to inspect."""
    return outcome(
        check,
        subject,
        Status.ERROR,
        f"{check} cannot judge: {problem}, which is impossible for valid data; inspect the labels in "
        f"{label_column(inputs)} and the scores (see label_domain).",
    )
