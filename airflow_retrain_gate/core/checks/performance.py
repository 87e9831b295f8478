"""performance: the model got worse on matured labels (AUC for 0/1 labels, RMSE for numeric ones) than
the reference's outcome-given-score predicts for the current mix of scores, so covariate shift alone
does not count. A drop in both halves of the current window asks for `train`; otherwise `alert`.
Reads positives and negatives (or squared errors) per score bin of both windows."""

from __future__ import annotations

import math

from pydantic import Field

from airflow_retrain_gate.core import stats
from airflow_retrain_gate.core.checks.context import CheckInputs, outcome
from airflow_retrain_gate.core.checks.label_maturity import maturity_problem
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


def _auc_drop(reference: OutcomeProfile, current: OutcomeProfile, days: list[int]) -> float:
    expected, actual, _ = expected_and_actual_auc(reference, current, days)
    return expected - actual


def _binary(
    inputs: CheckInputs,
    subject: str,
    reference: OutcomeProfile,
    current: OutcomeProfile,
    settings: PerformanceSettings,
) -> Finding:
    expected, actual, error = expected_and_actual_auc(reference, current)
    reference_auc, reference_error = stats.auc_from_bins(
        reference.by_bin("label_sum"), reference.by_bin("matured") - reference.by_bin("label_sum")
    )
    if math.isnan(expected) or math.isnan(actual):
        return outcome(
            "performance",
            subject,
            Status.INSUFFICIENT_DATA,
            "AUC needs both outcomes (0 and 1) in each window.",
        )
    drop = expected - actual
    p_value = stats.normal_p_value(drop, math.hypot(error, reference_error))
    first, second = current.halves()
    halves = [_auc_drop(reference, current, days) for days in (first, second) if days]
    evidence = {
        "reference_auc": reference_auc,
        "expected_auc": expected,
        "current_auc": actual,
        "p_value": p_value,
        "half_drops": halves,
    }
    size = stats.effective_size(reference.matured, current.matured)
    if not inputs.material(drop, settings.max_auc_drop, p_value, size):
        return outcome(
            "performance",
            subject,
            Status.PASS,
            f"AUC on matured labels {actual:.3f} (expected {expected:.3f} for this score mix): no material drop.",
            statistic="auc_drop",
            value=drop,
            threshold=settings.max_auc_drop,
            evidence=evidence,
        )
    persistent = len(halves) == 2 and all(value >= settings.max_auc_drop / 2 for value in halves)
    if persistent:
        message = (
            f"The model got worse on matured labels: AUC {actual:.3f} where the reference's outcome-given-score "
            f"predicts {expected:.3f} (drop {drop:.3f}, threshold {settings.max_auc_drop}), in both halves of the window. "
            "The target relationship changed: retrain."
        )
    else:
        message = f"AUC dropped to {actual:.3f} (expected {expected:.3f}), but not in both halves of the window: transient; look before retraining."
    return outcome(
        "performance",
        subject,
        Status.FAIL,
        message,
        action=Action.TRAIN if persistent else Action.ALERT,
        statistic="auc_drop",
        value=drop,
        threshold=settings.max_auc_drop,
        evidence=evidence,
    )


def _numeric(
    inputs: CheckInputs,
    subject: str,
    reference: OutcomeProfile,
    current: OutcomeProfile,
    settings: PerformanceSettings,
) -> Finding:
    expected, actual, error = expected_and_actual_mse(reference, current)
    if not (expected > 0) or math.isnan(actual):
        return outcome(
            "performance",
            subject,
            Status.INSUFFICIENT_DATA,
            "RMSE needs matured labels with some error in the reference window.",
        )
    growth = math.sqrt(actual / expected) - 1
    reference_error = math.sqrt(
        max(
            reference.totals("error_sq_sq") / reference.matured
            - (reference.totals("error_sq") / reference.matured) ** 2,
            0.0,
        )
        / reference.matured
    )
    p_value = stats.normal_p_value(actual - expected, math.hypot(error, reference_error))
    first, second = current.halves()
    halves = []
    for days in (first, second):
        if days:
            half_expected, half_actual, _ = expected_and_actual_mse(reference, current, days)
            halves.append(math.sqrt(half_actual / half_expected) - 1 if half_expected > 0 else math.nan)
    evidence = {
        "expected_rmse": math.sqrt(expected),
        "current_rmse": math.sqrt(actual),
        "p_value": p_value,
        "half_growth": halves,
    }
    if not inputs.material(
        growth, settings.max_rmse_increase, p_value, stats.effective_size(reference.matured, current.matured)
    ):
        return outcome(
            "performance",
            subject,
            Status.PASS,
            f"RMSE on matured labels {math.sqrt(actual):.4g} (expected {math.sqrt(expected):.4g}): no material growth.",
            statistic="rmse_growth",
            value=growth,
            threshold=settings.max_rmse_increase,
            evidence=evidence,
        )
    persistent = len(halves) == 2 and all(value >= settings.max_rmse_increase / 2 for value in halves)
    message = (
        f"The model got worse on matured labels: RMSE {math.sqrt(actual):.4g} where {math.sqrt(expected):.4g} is expected "
        f"(+{growth:.0%}, threshold {settings.max_rmse_increase:.0%})"
        + (
            ", in both halves of the window. The target relationship changed: retrain."
            if persistent
            else ", but not in both halves: transient; look before retraining."
        )
    )
    return outcome(
        "performance",
        subject,
        Status.FAIL,
        message,
        action=Action.TRAIN if persistent else Action.ALERT,
        statistic="rmse_growth",
        value=growth,
        threshold=settings.max_rmse_increase,
        evidence=evidence,
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
    subject = inputs.policy.tables.predictions.table if inputs.policy.tables.predictions else "predictions"
    if not inputs.profiles.outcomes_have_predictions:
        return [
            outcome(
                "performance",
                subject,
                Status.INSUFFICIENT_DATA,
                "Map tables.predictions (with a score) to measure performance.",
            )
        ]
    problem = maturity_problem(inputs)
    if problem:
        return [
            outcome("performance", subject, Status.INSUFFICIENT_DATA, f"Performance not judged: {problem}.")
        ]
    judge = _binary if reference.label_kind == "binary" else _numeric
    return [judge(inputs, subject, reference, current, settings)]
