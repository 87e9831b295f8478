"""score_inversion: a model that ranked 0/1 outcomes well above chance in the reference does not rank them
significantly below chance by drift; a realized AUC below 0.5 on matured labels means the score pipeline
flipped (score -> 1 - score, a swapped class). Reads positives and matured counts per score bin of both windows."""

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
from airflow_retrain_gate.core.profiling.kinds import ProfileKind
from airflow_retrain_gate.core.profiling.profiles import OutcomeProfile

CHANCE = 0.5


class ScoreInversionSettings(CheckSettings):
    """How far from chance the reference AUC (above) and the current AUC (below) must be."""

    min_margin: float = Field(
        default=0.05,
        gt=0,
        lt=0.5,
        description="Distance of the reference AUC above 0.5, and of the current AUC below it, that counts.",
    )


def realized_auc(profile: OutcomeProfile, days: list[int] | None = None) -> tuple[float, float]:
    """The AUC of the scores on matured 0/1 labels (of the given day indexes) and its standard error (Hanley-McNeil)."""
    positives = profile.by_bin("label_sum", days)
    return stats.auc_from_bins(positives, profile.by_bin("matured", days) - positives)


@dataclass(frozen=True)
class Span:
    """Days of the current window judged together: all of them, or the second half (an inversion mid-window)."""

    name: str
    days: list[int] | None
    auc: float
    error: float
    labels: int


def current_spans(current: OutcomeProfile) -> list[Span]:
    """The whole current window, then its second half of days with matured labels."""
    _, second = current.halves()
    spans: list[tuple[str, list[int] | None]] = [("the current window", None)]
    if second:
        spans.append((f"the current window since {current.days[second[0]]}", second))
    return [
        Span(name, days, *realized_auc(current, days), int(current.by_bin("matured", days).sum()))
        for name, days in spans
    ]


@register(
    "score_inversion",
    settings=ScoreInversionSettings,
    reads=(ProfileKind.OUTCOMES,),
    action=Action.FIX_FEATURES,
    summary="Scores that ranked outcomes above chance do not rank them significantly below it (a flipped score).",
)
def check_score_inversion(inputs: CheckInputs, settings: ScoreInversionSettings) -> list[Finding]:
    """One finding for the score: fail when the current AUC (of the window or its second half) is significantly
    below 0.5 while the reference's was above it."""
    reference, current = inputs.profiles.outcomes_reference, inputs.profiles.outcomes_current
    assert reference is not None and current is not None
    predictions = inputs.policy.tables.predictions
    subject = f"{predictions.subject}.{predictions.score}" if predictions else "predictions"
    blocked = unjudged(inputs, "score_inversion", subject)
    if blocked:
        return [blocked]
    if reference.label_kind != "binary":
        return [
            outcome("score_inversion", subject, Status.INSUFFICIENT_DATA, "score_inversion needs 0/1 labels.")
        ]
    reference_auc, reference_error = realized_auc(reference)
    spans = current_spans(current)
    if math.isnan(reference_auc) or math.isnan(spans[0].auc):
        return [
            outcome(
                "score_inversion",
                subject,
                Status.INSUFFICIENT_DATA,
                "score_inversion needs both outcomes (0 and 1) in each window.",
            )
        ]
    bounds = {**binary_label_bounds(reference, current), "the reference AUC": (reference_auc, 0.0, 1.0)}
    bounds.update(
        {f"the AUC of {span.name}": (span.auc, 0.0, 1.0) for span in spans if not math.isnan(span.auc)}
    )
    problem = out_of_range(bounds)
    if problem:
        return [metric_error(inputs, "score_inversion", subject, problem)]
    above = reference_auc - CHANCE
    reference_good = inputs.material(
        above, settings.min_margin, stats.normal_p_value(above, reference_error), reference.matured
    )
    inverted = [
        span
        for span in spans
        if reference_good
        and inputs.material(
            CHANCE - span.auc,
            settings.min_margin,
            stats.normal_p_value(CHANCE - span.auc, span.error),
            span.labels,
        )
    ]
    span = inverted[0] if inverted else spans[0]
    p_value = stats.normal_p_value(CHANCE - span.auc, span.error)
    evidence = {
        "reference_auc": reference_auc,
        "current_auc": spans[0].auc,
        "spans": {item.name: item.auc for item in spans},
        "p_value": p_value,
    }
    if not inverted:
        return [
            outcome(
                "score_inversion",
                subject,
                Status.PASS,
                f"The scores in {subject} rank outcomes the same way in both windows (AUC {reference_auc:.3f} "
                f"-> {span.auc:.3f}).",
                statistic="auc_below_chance",
                value=CHANCE - span.auc,
                threshold=settings.min_margin,
                evidence=evidence,
            )
        ]
    return [
        outcome(
            "score_inversion",
            subject,
            Status.FAIL,
            f"The scores in {subject} rank outcomes backwards in {span.name}: AUC {span.auc:.3f} on {span.labels} "
            f"matured labels, significantly below chance (p {p_value:.2g}), where the reference had "
            f"{reference_auc:.3f}. Drift does not invert a model: the score pipeline flipped (1 - score, swapped "
            "classes); fix the scoring before retraining.",
            action=Action.FIX_FEATURES,
            statistic="auc_below_chance",
            value=CHANCE - span.auc,
            threshold=settings.min_margin,
            evidence=evidence,
        )
    ]
