"""label_maturity: enough predictions of the current window have a known outcome (by as_of) for the
outcome checks to judge; below that they report insufficient data instead of deciding."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
from pydantic import Field

from airflow_retrain_gate.core.chart_evidence import ChartKey, DailySeries
from airflow_retrain_gate.core.checks.context import CheckInputs, outcome
from airflow_retrain_gate.core.checks.label_domain import domain_problem
from airflow_retrain_gate.core.checks.registry import CheckSettings, register
from airflow_retrain_gate.core.findings import Action, Finding, Status
from airflow_retrain_gate.core.profiling.kinds import ProfileKind
from airflow_retrain_gate.core.profiling.profiles import OutcomeProfile
from airflow_retrain_gate.core.timeframes import to_utc

DAY_SECONDS = 86400.0


class LabelMaturitySettings(CheckSettings):
    """The share and count of matured labels the outcome checks need in each window."""

    min_share: float = Field(
        default=0.5, gt=0, le=1, description="Share of current predictions with a known outcome."
    )
    min_labels: int = Field(default=200, ge=1, description="Matured labels each window needs.")
    max_unscored: float = Field(
        default=0.01, ge=0, le=1, description="Share of a window's predictions that may lack a usable score."
    )


def maturity_problem(inputs: CheckInputs) -> str | None:
    """Why outcome checks cannot judge yet (unusable scores, too few reference labels, or current labels that
    have not matured), or None when they can."""
    settings: LabelMaturitySettings = inputs.policy.check_settings("label_maturity")
    reference, current = inputs.profiles.outcomes_reference, inputs.profiles.outcomes_current
    if reference is None or current is None:
        return "outcomes are not profiled"
    for profile in (reference, current):
        scored_or_not = profile.predictions + profile.unscored
        if scored_or_not and profile.unscored / scored_or_not > settings.max_unscored:
            return (
                f"{profile.unscored / scored_or_not:.0%} of {profile.window.name} predictions have no usable "
                f"score (NULL, NaN or infinite; at most {settings.max_unscored:.0%} may); fix the scoring pipeline"
            )
    if reference.matured < settings.min_labels:
        return f"only {reference.matured} matured labels in the reference window (need {settings.min_labels})"
    return pending_labels(inputs)


def pending_labels(inputs: CheckInputs) -> str | None:
    """Why the current window's labels are not mature yet (too few, or too small a share of its predictions),
    with when enough should be; None when they are mature."""
    settings: LabelMaturitySettings = inputs.policy.check_settings("label_maturity")
    current = inputs.profiles.outcomes_current
    assert current is not None
    if current.matured < settings.min_labels:
        missing = f"only {current.matured} matured labels in the current window (need {settings.min_labels})"
    elif inputs.profiles.outcomes_have_predictions and current.predictions:
        share = current.matured / current.predictions
        if share >= settings.min_share:
            return None
        missing = (
            f"only {share:.0%} of current predictions have a known outcome by as_of "
            f"(need {settings.min_share:.0%}); labels are not mature yet"
        )
    else:
        return None
    # Without predictions, labels are counted by label time: there is no prediction whose label is pending.
    with_predictions = inputs.profiles.outcomes_have_predictions
    when = expected_maturity(current, inputs.as_of, settings) if with_predictions else None
    if when is None:
        return missing + _label_delay_hint(inputs)
    return f"{missing}; at the pace of the window's older days, enough should be known by {when:%Y-%m-%d}"


def expected_maturity(
    current: OutcomeProfile, as_of: datetime, settings: LabelMaturitySettings
) -> datetime | None:
    """When the window should reach `min_share` and `min_labels` matured labels, if each of its days matures as
    its older days did: the matured share by age (days since the middle of the prediction's day) is read off
    the window's own days. None when even its oldest day has not reached `min_share`: no day shows how long
    labels take."""
    predictions = current.by_day("n")
    known = predictions > 0
    if not known.any():
        return None
    middle = np.asarray(
        [(as_of - to_utc(day)).total_seconds() / DAY_SECONDS - 0.5 for day in current.days], float
    )[known]
    shares = current.by_day("matured")[known] / predictions[known]
    counts = predictions[known]
    order = np.argsort(middle)
    ages = np.concatenate([[0.0], np.maximum(middle[order], 0.0)])
    # Labels only accumulate: an older day's share is at least a younger one's.
    curve = np.maximum.accumulate(np.concatenate([[0.0], shares[order]]))
    if curve[-1] < settings.min_share:
        return None
    for hours in range(int(ages[-1] * 24) + 1):
        matured = counts * np.interp(middle + hours / 24, ages, curve)
        if matured.sum() >= settings.min_labels and matured.sum() >= settings.min_share * counts.sum():
            return as_of + timedelta(hours=hours)
    return None


def _label_delay_hint(inputs: CheckInputs) -> str:
    """What to set when the current window's labels have not arrived: the policy's label delay."""
    delay = inputs.policy.windows.label_delay
    if delay:
        return f" with windows.label_delay {delay}: raise it if labels take longer to arrive"
    return (
        ": if labels take longer than the current window to arrive, set windows.label_delay "
        "(e.g. 28d) to judge the outcomes of older predictions"
    )


def unjudged(inputs: CheckInputs, check: str, subject: str) -> Finding | None:
    """An insufficient_data finding for an outcome-given-score check that cannot judge yet (immature labels,
    or labels outside the reference's domain), else None."""
    if not inputs.profiles.outcomes_have_predictions:
        return outcome(
            check, subject, Status.INSUFFICIENT_DATA, f"Map tables.predictions (with a score) to run {check}."
        )
    problem = maturity_problem(inputs) or domain_problem(inputs)
    if problem:
        return outcome(check, subject, Status.INSUFFICIENT_DATA, f"{check} not judged: {problem}.")
    return None


@register(
    "label_maturity",
    settings=LabelMaturitySettings,
    reads=(ProfileKind.OUTCOMES,),
    action=Action.NONE,
    summary="Enough current predictions have matured outcomes for the outcome checks to judge.",
)
def check_label_maturity(inputs: CheckInputs, settings: LabelMaturitySettings) -> list[Finding]:
    """One finding: pass, or insufficient_data saying what is missing."""
    current = inputs.profiles.outcomes_current
    assert current is not None
    subject = inputs.policy.tables.outcomes.subject if inputs.policy.tables.outcomes else "outcomes"
    share = current.matured / current.predictions if current.predictions else 0.0
    evidence = {
        "predictions": current.predictions,
        "matured": current.matured,
        ChartKey.DAILY: DailySeries(
            current.days,
            {
                "matured_share": [
                    matured / total if total else None
                    for matured, total in zip(current.by_day("matured"), current.by_day("n"), strict=True)
                ]
            },
        ).to_dict(),
    }
    problem = maturity_problem(inputs)
    if problem and inputs.profiles.outcomes_have_predictions:
        when = expected_maturity(current, inputs.as_of, settings)
        evidence["expected_mature_at"] = when.isoformat() if when else None
    if problem:
        return [
            outcome(
                "label_maturity",
                subject,
                Status.INSUFFICIENT_DATA,
                f"Outcome checks cannot judge yet: {problem}.",
                statistic="matured_share",
                value=share,
                threshold=settings.min_share,
                evidence=evidence,
            )
        ]
    return [
        outcome(
            "label_maturity",
            subject,
            Status.PASS,
            f"{current.matured} outcomes are known for the current window ({share:.0%} of predictions).",
            statistic="matured_share",
            value=share,
            threshold=settings.min_share,
            evidence=evidence,
        )
    ]
