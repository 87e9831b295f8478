"""score_health: the model's score gets a feature's checks (dead signal, scale, NULLs) and keeps a probability's range.

Reads the predictions table's score column, profiled as a numeric feature is, in both windows. A broken score
is broken input, not concept drift: training on it would learn the breakage.
"""

from __future__ import annotations

from dataclasses import replace

from airflow_retrain_gate.core.chart_evidence import ChartKey, DailySeries
from airflow_retrain_gate.core.checks.context import CheckInputs, outcome
from airflow_retrain_gate.core.checks.dead_signal import numeric_finding
from airflow_retrain_gate.core.checks.null_rate import null_share_finding
from airflow_retrain_gate.core.checks.registry import CheckSettings, register
from airflow_retrain_gate.core.checks.scale_shift import scale_finding
from airflow_retrain_gate.core.findings import Action, Finding, Status
from airflow_retrain_gate.core.profiling.kinds import ProfileKind
from airflow_retrain_gate.core.profiling.profiles import NumericProfile


class ScoreHealthSettings(CheckSettings):
    """score_health judges with the thresholds of dead_signal, scale_shift and null_rate; it has none of its own."""


def probability_until(reference: NumericProfile, reference_days: tuple[str, ...]) -> tuple[bool, str | None]:
    """Whether the score was a probability in the reference, and the reference day it left [0, 1] for good.

    A score kept within [0, 1] is a probability, also when its last reference days left that range and never
    came back: that is a breakage old enough to have entered the reference window, not a score of another kind.
    """
    seen = [
        (day, moments)
        for day, moments in zip(reference_days, reference.daily_moments, strict=True)
        if moments.minimum is not None
    ]
    inside = [moments.minimum >= 0 and moments.maximum <= 1 for _, moments in seen]  # type: ignore[operator]
    kept = inside.index(False) if False in inside else len(inside)
    if kept == 0 or any(inside[kept:]):
        return False, None
    return True, seen[kept][0] if kept < len(seen) else None


def range_finding(
    subject: str,
    reference: NumericProfile,
    current: NumericProfile,
    days: tuple[str, ...],
    reference_days: tuple[str, ...],
) -> Finding:
    """A score that stayed in [0, 1] over the reference is a probability: any current value outside [0, 1] is broken."""
    probability, left_on = probability_until(reference, reference_days)
    if not probability:
        return outcome(
            "score_health",
            subject,
            Status.PASS,
            f"Column {subject} was not confined to [0, 1] in the reference; no probability range to keep.",
        )
    outside = [
        day
        for day, moments in zip(days, current.daily_moments, strict=True)
        if moments.count and (moments.minimum < 0 or moments.maximum > 1)  # type: ignore[operator]
    ]
    ref, cur = reference.moments, current.moments
    evidence = {
        "reference": {"min": ref.minimum, "max": ref.maximum},
        "current": {"min": cur.minimum, "max": cur.maximum},
        ChartKey.DAILY: DailySeries(
            days,
            {
                "min": [day.minimum for day in current.daily_moments],
                "max": [day.maximum for day in current.daily_moments],
            },
        ).to_dict(),
    }
    if not outside:
        return outcome(
            "score_health",
            subject,
            Status.PASS,
            f"Column {subject} stays a probability: every value is within [0, 1].",
            statistic="days_out_of_range",
            value=0.0,
            threshold=1.0,
            evidence=evidence,
        )
    since = left_on or outside[0]
    kept = (
        f"the reference stayed within [0, 1] until {left_on}"
        if left_on
        else "the reference stayed within [0, 1]"
    )
    return outcome(
        "score_health",
        subject,
        Status.FAIL,
        f"Column {subject} left the probability range on {len(outside)} day(s) since {since}: current "
        f"values run from {cur.minimum:.4g} to {cur.maximum:.4g}, where {kept}. "
        "The scoring job writes rescaled or foreign scores; fix it before training on them.",
        action=Action.FIX_FEATURES,
        statistic="days_out_of_range",
        value=float(len(outside)),
        threshold=1.0,
        evidence={**evidence, "out_of_range_days": outside, "since": since},
    )


@register(
    "score_health",
    settings=ScoreHealthSettings,
    reads=(ProfileKind.PREDICTIONS,),
    action=Action.FIX_FEATURES,
    summary="The score is alive, keeps its scale and probability range, and its NULL share does not rise.",
    guards_training=True,
)
def check_score_health(inputs: CheckInputs, settings: ScoreHealthSettings) -> list[Finding]:
    """Four findings on the score column: liveness, scale, range and NULL share."""
    reference, current = inputs.profiles.scores_reference, inputs.profiles.scores_current
    mapping = inputs.policy.tables.predictions
    assert reference is not None and current is not None and mapping is not None
    subject = f"{mapping.subject}.{mapping.score}"
    ref, cur = reference.numeric[mapping.score], current.numeric[mapping.score]
    policy = inputs.policy
    findings = [
        numeric_finding(subject, ref, cur, current.days, policy.check_settings("dead_signal")),
        scale_finding(subject, ref, cur, current.days, reference.days, policy.check_settings("scale_shift")),
        range_finding(subject, ref, cur, current.days, reference.days),
        null_share_finding(
            inputs, subject, reference, current, mapping.score, policy.check_settings("null_rate")
        ),
    ]
    return [replace(finding, check="score_health") for finding in findings]
