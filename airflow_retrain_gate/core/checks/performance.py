"""performance: the model got worse on matured labels (AUC for 0/1 labels, RMSE for numeric ones) than
the reference's outcome-given-score predicts for the current mix of scores, so covariate shift alone
does not count. A drop in both halves of the current window asks for `train`; otherwise `alert`.
Reads positives and negatives (or squared errors) per score bin of both windows."""

from __future__ import annotations

import math
from dataclasses import dataclass

from pydantic import Field

from airflow_retrain_gate.core import stats
from airflow_retrain_gate.core.checks.context import CheckInputs, outcome
from airflow_retrain_gate.core.checks.label_maturity import unjudged
from airflow_retrain_gate.core.checks.metric_range import binary_label_bounds, metric_error, out_of_range
from airflow_retrain_gate.core.checks.registry import CheckSettings, register
from airflow_retrain_gate.core.findings import Action, Finding, Status
from airflow_retrain_gate.core.profiles import OutcomeProfile
from airflow_retrain_gate.core.score_mix import expected_mean, reference_means, score_groups


class PerformanceSettings(CheckSettings):
    """How much worse the model may get before it needs retraining."""

    max_auc_drop: float = Field(default=0.05, gt=0, lt=1, description="AUC loss (0/1 labels) that fails.")
    max_rmse_increase: float = Field(
        default=0.1, gt=0, description="Relative RMSE growth (numeric labels) that fails."
    )


@dataclass(frozen=True)
class Loss:
    """How much worse the model did than expected: the effect, its test, and the same effect per window half."""

    statistic: str
    expected: float
    actual: float
    worsening: float
    p_value: float
    halves: list[float]


def expected_and_actual_auc(
    reference: OutcomeProfile, current: OutcomeProfile, days: list[int] | None = None
) -> tuple[float, float, float]:
    """(AUC the current predictions would have under the reference's outcome-given-score, actual AUC, its std error)."""
    groups = score_groups(reference)
    rates = reference_means(reference, "label_sum", "matured", groups)
    matured = stats.regroup(current.by_bin("matured", days), groups)
    positives = stats.regroup(current.by_bin("label_sum", days), groups)
    expected, _ = stats.auc_from_bins(matured * rates, matured * (1 - rates))
    actual, error = stats.auc_from_bins(positives, matured - positives)
    return expected, actual, error


def expected_and_actual_mse(
    reference: OutcomeProfile, current: OutcomeProfile, days: list[int] | None = None
) -> tuple[float, float, float]:
    """(MSE expected under the reference's error per score bin, actual MSE, its std error)."""
    groups = score_groups(reference)
    matured = current.by_bin("matured", days)
    count = matured.sum()
    if count < 2:
        return math.nan, math.nan, math.nan
    expected = expected_mean(reference_means(reference, "error_sq", "matured", groups), matured, groups)
    actual = current.by_bin("error_sq", days).sum() / count
    variance = max(current.by_bin("error_sq_sq", days).sum() / count - actual * actual, 0.0)
    return expected, float(actual), math.sqrt(variance / count)


def auc_loss(reference: OutcomeProfile, current: OutcomeProfile) -> Loss | None:
    """The AUC drop against the score-mix expectation (None when a window lacks positives or negatives)."""
    expected, actual, error = expected_and_actual_auc(reference, current)
    positives = reference.by_bin("label_sum")
    _, reference_error = stats.auc_from_bins(positives, reference.by_bin("matured") - positives)
    if math.isnan(expected) or math.isnan(actual):
        return None
    halves = [
        float(expected_half - actual_half)
        for days in current.halves()
        if days
        for expected_half, actual_half, _ in [expected_and_actual_auc(reference, current, days)]
    ]
    p_value = stats.normal_p_value(expected - actual, math.hypot(error, reference_error))
    return Loss("auc_drop", expected, actual, expected - actual, p_value, halves)


def rmse_loss(reference: OutcomeProfile, current: OutcomeProfile) -> Loss | None:
    """The relative RMSE growth against the score-mix expectation (None without reference errors)."""
    expected, actual, error = expected_and_actual_mse(reference, current)
    if not expected > 0 or math.isnan(actual):
        return None
    mean_error = reference.totals("error_sq") / reference.matured
    reference_error = math.sqrt(
        max(reference.totals("error_sq_sq") / reference.matured - mean_error**2, 0.0) / reference.matured
    )
    halves = []
    for days in current.halves():
        if days:
            half_expected, half_actual, _ = expected_and_actual_mse(reference, current, days)
            halves.append(math.sqrt(half_actual / half_expected) - 1 if half_expected > 0 else math.nan)
    p_value = stats.normal_p_value(actual - expected, math.hypot(error, reference_error))
    return Loss(
        "rmse_growth",
        math.sqrt(expected),
        math.sqrt(actual),
        math.sqrt(actual / expected) - 1,
        p_value,
        halves,
    )


@register(
    "performance",
    settings=PerformanceSettings,
    reads=("outcomes",),
    action=Action.TRAIN,
    summary="A persistent drop in AUC (0/1 labels) or rise in RMSE (numeric labels) on matured labels: train.",
)
def check_performance(inputs: CheckInputs, settings: PerformanceSettings) -> list[Finding]:
    """One finding for the model's score against matured labels."""
    reference, current = inputs.profiles.outcomes_reference, inputs.profiles.outcomes_current
    assert reference is not None and current is not None
    subject = inputs.policy.tables.predictions.subject if inputs.policy.tables.predictions else "predictions"
    blocked = unjudged(inputs, "performance", subject)
    if blocked:
        return [blocked]
    binary = reference.label_kind == "binary"
    loss = auc_loss(reference, current) if binary else rmse_loss(reference, current)
    metric, threshold = ("AUC", settings.max_auc_drop) if binary else ("RMSE", settings.max_rmse_increase)
    if loss is None:
        needs = (
            "both outcomes (0 and 1) in each window"
            if binary
            else "matured labels with some error in the reference"
        )
        return [outcome("performance", subject, Status.INSUFFICIENT_DATA, f"{metric} needs {needs}.")]
    highest = 1.0 if binary else math.inf
    problem = out_of_range(
        {
            **(binary_label_bounds(reference, current) if binary else {}),
            f"the expected {metric}": (loss.expected, 0.0, highest),
            f"the current {metric}": (loss.actual, 0.0, highest),
            "the p-value": (loss.p_value, 0.0, 1.0),
        }
    )
    if problem:
        return [metric_error(inputs, "performance", subject, problem)]
    evidence = {
        f"expected_{metric.lower()}": loss.expected,
        f"current_{metric.lower()}": loss.actual,
        "p_value": loss.p_value,
        "half_worsening": loss.halves,
    }
    measured = f"{metric} on matured labels {loss.actual:.4g} where the reference's outcome-given-score predicts {loss.expected:.4g}"
    size = stats.effective_size(reference.matured, current.matured)
    if not inputs.material(loss.worsening, threshold, loss.p_value, size):
        return [
            outcome(
                "performance",
                subject,
                Status.PASS,
                f"{measured}: no material loss.",
                statistic=loss.statistic,
                value=loss.worsening,
                threshold=threshold,
                evidence=evidence,
            )
        ]
    persistent = len(loss.halves) == 2 and all(value >= threshold / 2 for value in loss.halves)
    verdict = (
        "in both halves of the window. The target relationship changed: retrain."
        if persistent
        else "but not in both halves of the window: a transient loss; look before retraining."
    )
    return [
        outcome(
            "performance",
            subject,
            Status.FAIL,
            f"The model got worse: {measured} ({loss.statistic.replace('_', ' ')} {loss.worsening:.3g}, threshold {threshold}), {verdict}",
            action=Action.TRAIN if persistent else Action.ALERT,
            statistic=loss.statistic,
            value=loss.worsening,
            threshold=threshold,
            evidence=evidence,
        )
    ]
