"""concept_drift: the outcome given the score changed (calibration / outcome rate per score bin) on
matured labels. Persistent in both halves of the window: `train`; otherwise `alert`.
Reads matured counts, label sums and squares per score bin of both windows."""

from __future__ import annotations

import math

import numpy as np
from pydantic import Field

from airflow_retrain_gate.core import stats
from airflow_retrain_gate.core.chart_evidence import BinComparison, ChartKey
from airflow_retrain_gate.core.checks.context import CheckInputs, outcome
from airflow_retrain_gate.core.checks.label_maturity import unjudged
from airflow_retrain_gate.core.checks.metric_range import (
    Bounds,
    binary_label_bounds,
    metric_error,
    out_of_range,
)
from airflow_retrain_gate.core.checks.multiclass import is_multiclass, judge_per_class
from airflow_retrain_gate.core.checks.registry import CheckSettings, register
from airflow_retrain_gate.core.findings import Action, Finding, Status
from airflow_retrain_gate.core.profiling.kinds import ProfileKind
from airflow_retrain_gate.core.profiling.profiles import OutcomeProfile

MIN_BIN_LABELS = 20


class ConceptDriftSettings(CheckSettings):
    """How far outcomes per score bin may move, and how many bins of equal reference mass to compare."""

    min_shift: float = Field(
        default=0.2,
        gt=0,
        description="Mean absolute change of the outcome per score bin, relative to the base rate "
        "(0/1 labels: min(rate, 1 - rate)) or to the label's std (numeric labels).",
    )
    bins: int = Field(default=10, ge=2, le=50)


def calibration_shift(
    reference: OutcomeProfile, current: OutcomeProfile, groups: np.ndarray, days: list[int] | None = None
) -> tuple[float, float, BinComparison | None]:
    """(shift, p-value, per-bin outcome means) of outcome-given-score between the windows; NaN and None when
    the score bins hold too few labels to compare."""
    ref_n = stats.regroup(reference.by_bin("matured"), groups)
    ref_sum = stats.regroup(reference.by_bin("label_sum"), groups)
    ref_sq = stats.regroup(reference.by_bin("label_sq"), groups)
    cur_n = stats.regroup(current.by_bin("matured", days), groups)
    cur_sum = stats.regroup(current.by_bin("label_sum", days), groups)
    cur_sq = stats.regroup(current.by_bin("label_sq", days), groups)
    usable = (ref_n >= MIN_BIN_LABELS) & (cur_n >= MIN_BIN_LABELS)
    if not usable.any():
        return math.nan, 1.0, None
    ref_mean = np.divide(ref_sum, ref_n, out=np.zeros_like(ref_sum), where=ref_n > 0)
    cur_mean = np.divide(cur_sum, cur_n, out=np.zeros_like(cur_sum), where=cur_n > 0)
    overall = ref_sum.sum() / ref_n.sum()
    ref_size, cur_size = np.maximum(ref_n, 1), np.maximum(cur_n, 1)
    if reference.label_kind == "binary":
        scale = min(overall, 1 - overall)
        pooled_rate = (ref_sum + cur_sum) / (ref_size + cur_size)
        variance = pooled_rate * (1 - pooled_rate) * (1 / ref_size + 1 / cur_size)
    else:
        scale = math.sqrt(max(ref_sq.sum() / ref_n.sum() - overall * overall, 0.0))
        ref_var = np.maximum(ref_sq / ref_size - ref_mean**2, 0.0)
        cur_var = np.maximum(cur_sq / cur_size - cur_mean**2, 0.0)
        variance = ref_var / ref_size + cur_var / cur_size
    if scale <= 0:
        return math.nan, 1.0, None
    weights = cur_n[usable] / cur_n[usable].sum()
    shift = float(np.sum(weights * np.abs(cur_mean - ref_mean)[usable]) / scale)
    z_squared = np.divide(
        (cur_mean - ref_mean) ** 2, variance, out=np.zeros_like(variance), where=(variance > 0) & usable
    )
    p_value = stats.chi_square_p(float(z_squared[usable].sum()), int(usable.sum()))
    curves = BinComparison(
        score_ranges(reference.score_edges, groups), ref_mean.round(6).tolist(), cur_mean.round(6).tolist()
    )
    return shift, p_value, curves


def score_ranges(edges: tuple[float, ...], groups: np.ndarray) -> list[str]:
    """The score range of each group of fine bins, e.g. "0.12–0.25" (scores outside the reference's range
    fall into the first or last group, labelled with the reference's minimum or maximum)."""
    ranges = []
    for group in range(int(groups.max()) + 1):
        slots = np.nonzero(groups == group)[0]
        low = edges[max(int(slots[0]) - 1, 0)]
        high = edges[min(int(slots[-1]), len(edges) - 1)]
        ranges.append(f"{low:.3g}\u2013{high:.3g}")
    return ranges


def _metric_bounds(shift: float, p_value: float, curves: BinComparison, binary: bool) -> dict[str, Bounds]:
    """The range each computed metric must lie in; outcome rates of 0/1 labels lie in [0, 1]."""
    bounds: dict[str, Bounds] = {
        "the calibration shift": (shift, 0.0, math.inf),
        "the p-value": (p_value, 0.0, 1.0),
    }
    if binary:
        rates = [rate for rate in (*curves.reference, *curves.current) if rate is not None]
        bounds["the lowest outcome rate of a score bin"] = (min(rates), 0.0, 1.0)
        bounds["the highest outcome rate of a score bin"] = (max(rates), 0.0, 1.0)
    return bounds


@register(
    "concept_drift",
    settings=ConceptDriftSettings,
    reads=(ProfileKind.OUTCOMES,),
    action=Action.TRAIN,
    summary="Outcome per score bin (calibration) changed on matured labels while inputs are healthy: train.",
)
def check_concept_drift(inputs: CheckInputs, settings: ConceptDriftSettings) -> list[Finding]:
    """One finding for outcome-given-score (a multiclass model: one per class, over that class's score)."""
    if is_multiclass(inputs):
        return judge_per_class(
            inputs, "concept_drift", lambda one_class: check_concept_drift(one_class, settings)
        )
    reference, current = inputs.profiles.outcomes_reference, inputs.profiles.outcomes_current
    assert reference is not None and current is not None
    subject = inputs.policy.tables.predictions.subject if inputs.policy.tables.predictions else "predictions"
    blocked = unjudged(inputs, "concept_drift", subject)
    if blocked:
        return [blocked]
    groups = stats.equal_mass_groups(reference.by_bin("matured"), settings.bins)
    shift, p_value, curves = calibration_shift(reference, current, groups)
    if math.isnan(shift) or curves is None:
        return [
            outcome(
                "concept_drift",
                subject,
                Status.INSUFFICIENT_DATA,
                f"Too few matured labels per score bin (need {MIN_BIN_LABELS}) to compare outcome given score.",
            )
        ]
    bounds = _metric_bounds(shift, p_value, curves, reference.label_kind == "binary")
    if reference.label_kind == "binary":
        bounds = {**binary_label_bounds(reference, current), **bounds}
    problem = out_of_range(bounds)
    if problem:
        return [metric_error(inputs, "concept_drift", subject, problem)]
    first, second = current.halves()
    halves = [calibration_shift(reference, current, groups, days)[0] for days in (first, second) if days]
    evidence = {
        "p_value": p_value,
        "half_shifts": halves,
        ChartKey.OUTCOME_BY_SCORE_BIN: curves.to_dict(),
        "label_kind": reference.label_kind,
    }
    size = stats.effective_size(reference.matured, current.matured)
    what = "outcome rate" if reference.label_kind == "binary" else "mean outcome"
    if not inputs.material(shift, settings.min_shift, p_value, size):
        return [
            outcome(
                "concept_drift",
                subject,
                Status.PASS,
                f"The {what} per score bin is stable (shift {shift:.2f}, threshold {settings.min_shift}).",
                statistic="calibration_shift",
                value=shift,
                threshold=settings.min_shift,
                evidence=evidence,
            )
        ]
    persistent = len(halves) == 2 and all(
        not math.isnan(value) and value >= settings.min_shift / 2 for value in halves
    )
    example = curves.largest_change()
    detail = f"e.g. score bin {example + 1}: {curves.reference[example]:.3g} -> {curves.current[example]:.3g}"
    if persistent:
        message = (
            f"Concept drift: the {what} given the model's score changed (shift {shift:.2f}, threshold "
            f"{settings.min_shift}; {detail}) in both halves of the window, on matured labels. The target changed: retrain."
        )
    else:
        message = f"The {what} given the score moved (shift {shift:.2f}; {detail}) but not in both halves of the window: transient; look before retraining."
    return [
        outcome(
            "concept_drift",
            subject,
            Status.FAIL,
            message,
            action=Action.TRAIN if persistent else Action.ALERT,
            statistic="calibration_shift",
            value=shift,
            threshold=settings.min_shift,
            evidence=evidence,
        )
    ]
