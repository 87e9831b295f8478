"""performance: the model got worse on matured labels (AUC for 0/1 labels, RMSE for numeric ones) than
the reference's outcome-given-score predicts for the current mix of scores, so covariate shift alone
does not count. A drop in both halves of the current window asks for `train`; otherwise `alert`.
A realized loss the shift explains while calibration holds is said as such (a skip leads with it), and before
labels mature the check reports what the current scores promise (a material expected drop: `alert`).
Reads positives and negatives (or squared errors) per score bin of both windows."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from pydantic import Field

from airflow_retrain_gate.core import stats
from airflow_retrain_gate.core.checks.concept_drift import ConceptDriftSettings, calibration_shift
from airflow_retrain_gate.core.checks.context import CheckInputs, outcome
from airflow_retrain_gate.core.checks.drift import column_drifts
from airflow_retrain_gate.core.checks.label_maturity import (
    expected_maturity,
    maturity_problem,
    pending_labels,
    unjudged,
)
from airflow_retrain_gate.core.checks.metric_range import binary_label_bounds, metric_error, out_of_range
from airflow_retrain_gate.core.checks.multiclass import is_multiclass, judge_performance_per_class
from airflow_retrain_gate.core.checks.registry import CheckSettings, register
from airflow_retrain_gate.core.findings import EXPLAINS_CHANGE, Action, Finding, Status
from airflow_retrain_gate.core.performance_estimate import estimate_performance
from airflow_retrain_gate.core.profiling.kinds import ProfileKind
from airflow_retrain_gate.core.profiling.profiles import OutcomeProfile
from airflow_retrain_gate.core.score_mix import expected_auc, expected_mean, reference_means, score_groups

VISIBLE_CHANGE = 0.001
"""The smallest change of a metric the messages show (three decimals): a smaller fall is not said to happen."""


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
    reference: float
    """The metric realized in the reference window."""
    change: float
    """How much worse the realized metric is than the reference's (AUC drop, relative RMSE growth)."""
    change_p_value: float


def realized_auc(
    profile: OutcomeProfile, groups: np.ndarray, days: list[int] | None = None
) -> tuple[float, float]:
    """(AUC, its std error) of a window's matured labels on the score groups."""
    matured = stats.regroup(profile.by_bin("matured", days), groups)
    positives = stats.regroup(profile.by_bin("label_sum", days), groups)
    return stats.auc_from_bins(positives, matured - positives)


def expected_and_actual_auc(
    reference: OutcomeProfile, current: OutcomeProfile, days: list[int] | None = None
) -> tuple[float, float, float]:
    """(AUC the current predictions would have under the reference's outcome-given-score, actual AUC, its std error)."""
    expected, _ = expected_auc(reference, current.by_bin("matured", days))
    actual, error = realized_auc(current, score_groups(reference), days)
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
    reference_auc, reference_error = realized_auc(reference, score_groups(reference))
    if math.isnan(expected) or math.isnan(actual) or math.isnan(reference_auc):
        return None
    halves = [
        float(expected_half - actual_half)
        for days in current.halves()
        if days
        for expected_half, actual_half, _ in [expected_and_actual_auc(reference, current, days)]
    ]
    both_errors = math.hypot(error, reference_error)
    p_value = stats.normal_p_value(expected - actual, both_errors)
    change_p_value = stats.normal_p_value(reference_auc - actual, both_errors)
    return Loss(
        "auc_drop",
        expected,
        actual,
        expected - actual,
        p_value,
        halves,
        reference_auc,
        reference_auc - actual,
        change_p_value,
    )


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
        math.sqrt(mean_error),
        math.sqrt(actual / mean_error) - 1 if mean_error > 0 else math.nan,
        stats.normal_p_value(actual - mean_error, math.hypot(error, reference_error)),
    )


@register(
    "performance",
    settings=PerformanceSettings,
    reads=(ProfileKind.OUTCOMES,),
    action=Action.TRAIN,
    summary="A persistent drop in AUC (0/1 labels) or rise in RMSE (numeric labels) on matured labels: train.",
)
def check_performance(inputs: CheckInputs, settings: PerformanceSettings) -> list[Finding]:
    """One finding for the model's score against matured labels (a multiclass model: one per class)."""
    if is_multiclass(inputs):
        return judge_performance_per_class(inputs, lambda one_class: check_performance(one_class, settings))
    reference, current = inputs.profiles.outcomes_reference, inputs.profiles.outcomes_current
    assert reference is not None and current is not None
    subject = inputs.policy.tables.predictions.subject if inputs.policy.tables.predictions else "predictions"
    blocked = unjudged(inputs, "performance", subject)
    if blocked:
        return [before_labels(inputs, blocked, settings)]
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
    if binary and loss.expected - 0.5 < threshold:
        return [degenerate_expectation(reference, current, subject, loss, threshold)]
    evidence = {
        f"expected_{metric.lower()}": loss.expected,
        f"current_{metric.lower()}": loss.actual,
        f"reference_{metric.lower()}": loss.reference,
        "p_value": loss.p_value,
        "half_worsening": loss.halves,
    }
    measured = f"{metric} on matured labels {loss.actual:.4g} where the reference's outcome-given-score predicts {loss.expected:.4g}"
    size = stats.effective_size(reference.matured, current.matured)
    if not inputs.material(loss.worsening, threshold, loss.p_value, size):
        if inputs.material(loss.change, VISIBLE_CHANGE, loss.change_p_value, size):
            return [explained_change(inputs, subject, loss, metric, threshold, evidence)]
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


def degenerate_expectation(
    reference: OutcomeProfile, current: OutcomeProfile, subject: str, loss: Loss, threshold: float
) -> Finding:
    """insufficient_data: the current scores promise an AUC so close to 0.5 (scores collapsed into one score
    group, say, when an input froze or changed its unit) that even a model ranking at chance would not show
    the loss that fails."""
    groups = score_groups(reference)
    matured = stats.regroup(current.by_bin("matured"), groups)
    crowded = float(matured.max() / matured.sum()) if matured.sum() else 0.0
    promised, _ = expected_auc(reference, reference.by_bin("matured"))
    return outcome(
        "performance",
        subject,
        Status.INSUFFICIENT_DATA,
        f"performance not judged: at the reference's outcome given score the current scores promise an AUC of "
        f"only {loss.expected:.3f} (the reference's scores: {promised:.3f}; {crowded:.0%} of the current scores "
        f"fall in one of {len(matured)} score groups), so even a model ranking no better than chance would not "
        f"show the {threshold} loss that fails. Scores that collapsed usually mean broken inputs: look at the "
        "features the model reads.",
        statistic="expected_auc",
        value=loss.expected,
        threshold=0.5 + threshold,
        evidence={
            "current_scores_promise_auc": loss.expected,
            "reference_scores_promise_auc": promised,
            "crowded_share": crowded,
        },
    )


def explained_change(
    inputs: CheckInputs, subject: str, loss: Loss, metric: str, threshold: float, evidence: dict[str, object]
) -> Finding:
    """A pass: the realized metric got worse than the reference's, as the current mix of scores predicts. While
    calibration holds, the loss comes from who is scored, not from the model (a skip leads with it, however
    large: retraining on the same inputs would not recover it, and an alert would outrank the checks that see
    a change the score hides)."""
    reference, current = inputs.profiles.outcomes_reference, inputs.profiles.outcomes_current
    assert reference is not None and current is not None
    moved = "fell" if metric == "AUC" else "rose"
    size = stats.effective_size(reference.matured, current.matured)
    material = (
        " (a material loss)" if inputs.material(loss.change, threshold, loss.change_p_value, size) else ""
    )
    said = (
        f"{metric} {moved} {loss.reference:.3g} -> {loss.actual:.3g}{material}, as the shift in "
        f"{shift_cause(inputs)} predicts"
    )
    explained = {**evidence, "realized_change": loss.change, "change_p_value": loss.change_p_value}
    holds = calibration_holds(inputs, reference, current)
    return outcome(
        "performance",
        subject,
        Status.PASS,
        f"{said}; the model's calibration holds."
        if holds
        else f"{said} ({loss.expected:.3g} expected at the reference's outcome given score): no material loss "
        "beyond it.",
        statistic=loss.statistic,
        value=loss.worsening,
        threshold=threshold,
        evidence={**explained, EXPLAINS_CHANGE: True} if holds else explained,
    )


def calibration_holds(inputs: CheckInputs, reference: OutcomeProfile, current: OutcomeProfile) -> bool:
    """Whether outcome given score stayed within concept_drift's settings (the measure that check uses)."""
    settings: ConceptDriftSettings = inputs.policy.check_settings("concept_drift")
    groups = stats.equal_mass_groups(reference.by_bin("matured"), settings.bins)
    shift, p_value, _ = calibration_shift(reference, current, groups)
    size = stats.effective_size(reference.matured, current.matured)
    return math.isfinite(shift) and not inputs.material(shift, settings.min_shift, p_value, size)


def shift_cause(inputs: CheckInputs) -> str:
    """The feature that drifted most (by the drift check's statistic) among those whose drift is significant,
    or "the scores" when none did."""
    profiles = inputs.profiles
    if profiles.features_reference is None or profiles.features_current is None:
        return "the scores"
    drifting = [drift for drift in column_drifts(inputs) if drift.warn or drift.p_value < inputs.alpha]
    return max(drifting, key=lambda drift: drift.value).column if drifting else "the scores"


def before_labels(inputs: CheckInputs, blocked: Finding, settings: PerformanceSettings) -> Finding:
    """The unjudged finding, with the performance the current scores promise when only the current window's
    labels are pending (0/1 labels). A material expected AUC drop alerts; an estimate never asks for train."""
    reference, current = inputs.profiles.outcomes_reference, inputs.profiles.outcomes_current
    assert reference is not None and current is not None
    if not inputs.profiles.outcomes_have_predictions or reference.label_kind != "binary":
        return blocked
    pending = pending_labels(inputs)
    if pending is None or maturity_problem(inputs) != pending:
        return blocked
    estimate = estimate_performance(reference, current)
    if estimate is None or estimate.predictions < inputs.min_rows:
        return blocked
    when = expected_maturity(current, inputs.as_of, inputs.policy.check_settings("label_maturity"))
    evidence = {**estimate.to_evidence(), "expected_mature_at": when.isoformat() if when else None}
    size = stats.effective_size(reference.matured, estimate.predictions)
    if inputs.material(estimate.drop, settings.max_auc_drop, estimate.p_value, size):
        return outcome(
            "performance",
            blocked.subject,
            Status.FAIL,
            f"Performance is expected to fall before labels can show it: {estimate.describe()}, a drop of "
            f"{estimate.drop:.3f} (threshold {settings.max_auc_drop}). Not judged on labels yet: {pending}. "
            "An estimate never retrains: look at what moved the scores.",
            action=Action.ALERT,
            statistic="estimated_auc_drop",
            value=estimate.drop,
            threshold=settings.max_auc_drop,
            evidence=evidence,
        )
    return replace(
        blocked,
        message=f"{blocked.message} Estimated before labels: {estimate.describe()}.",
        statistic="estimated_auc_drop",
        value=estimate.drop,
        threshold=settings.max_auc_drop,
        evidence={**blocked.evidence, **evidence},
    )
