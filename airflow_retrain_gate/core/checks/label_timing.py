"""label_timing: an outcome cannot be known before the prediction it grades. A label timestamped earlier
than its prediction means leakage or a broken join; past a small tolerance (clock skew) it is broken input.
Reads the counts of early labels and of matured labels in both windows."""

from __future__ import annotations

from pydantic import Field

from airflow_retrain_gate.core.chart_evidence import ChartKey, DailySeries
from airflow_retrain_gate.core.checks.context import CheckInputs, outcome
from airflow_retrain_gate.core.checks.label_domain import window_name
from airflow_retrain_gate.core.checks.registry import CheckSettings, register
from airflow_retrain_gate.core.findings import Action, Finding, Status
from airflow_retrain_gate.core.profiling.kinds import ProfileKind
from airflow_retrain_gate.core.profiling.profiles import OutcomeProfile


class LabelTimingSettings(CheckSettings):
    """The share of labels that may be timestamped before their prediction (clock skew between systems)."""

    max_early_share: float = Field(
        default=0.01,
        ge=0,
        lt=1,
        description="Share of a window's matured labels that may be timestamped before their prediction.",
    )


def early_share(profile: OutcomeProfile) -> float:
    """Share of the window's matured labels known before their prediction (0 without matured labels)."""
    return profile.totals("label_early") / profile.matured if profile.matured else 0.0


@register(
    "label_timing",
    settings=LabelTimingSettings,
    reads=(ProfileKind.OUTCOMES,),
    action=Action.FIX_FEATURES,
    summary="Labels are not timestamped before their predictions (leakage or a broken join).",
)
def check_label_timing(inputs: CheckInputs, settings: LabelTimingSettings) -> list[Finding]:
    """One finding for the label timestamp: fail when either window holds too many labels older than their prediction."""
    reference, current = inputs.profiles.outcomes_reference, inputs.profiles.outcomes_current
    assert reference is not None and current is not None
    outcomes, predictions = inputs.policy.tables.outcomes, inputs.policy.tables.predictions
    assert outcomes is not None
    subject = f"{outcomes.subject}.{outcomes.label_timestamp}"
    if predictions is None or not inputs.profiles.outcomes_have_predictions:
        return [
            outcome(
                "label_timing",
                subject,
                Status.INSUFFICIENT_DATA,
                "Map tables.predictions to compare label times with prediction times.",
            )
        ]
    if not reference.matured and not current.matured:
        return [
            outcome(
                "label_timing",
                subject,
                Status.INSUFFICIENT_DATA,
                f"No matured labels in {outcomes.subject} to time.",
            )
        ]
    worst = max((current, reference), key=early_share)
    share = early_share(worst)
    evidence = {
        "early_share": {"reference": early_share(reference), "current": early_share(current)},
        ChartKey.DAILY: DailySeries(
            current.days, {"early": current.by_day("label_early").tolist()}
        ).to_dict(),
    }
    if share <= settings.max_early_share:
        status, action = Status.PASS, Action.NONE
        message = (
            f"Labels in {subject} come after their predictions ({share:.2%} earlier, at most "
            f"{settings.max_early_share:.0%} may be)."
        )
    else:
        status, action = Status.FAIL, Action.FIX_FEATURES
        message = (
            f"{int(worst.totals('label_early'))} of {worst.matured} matured labels ({share:.1%}) of the "
            f"{window_name(worst.window)} have {subject} earlier than their "
            f"prediction's {predictions.subject}.{predictions.timestamp} (at most {settings.max_early_share:.0%} "
            f"may): leakage, a broken join on {outcomes.entity}, or entities scored again after their label was "
            "known; fix the label timestamps, or give each label the prediction it belongs to."
        )
    return [
        outcome(
            "label_timing",
            subject,
            status,
            message,
            action=action,
            statistic="early_label_share",
            value=share,
            threshold=settings.max_early_share,
            evidence=evidence,
        )
    ]
