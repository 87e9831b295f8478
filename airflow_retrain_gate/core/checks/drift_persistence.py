"""drift_persistence: drift seen on only a few days of the current window is transient (a campaign, an
incident): retraining would learn the anomaly, so a person should look. Reads per-day drift, where a day
drifts only when it carries a material change (not a rare new value, not sampling noise) that stays
significant once every column's days are adjusted together (see drift_analysis)."""

from __future__ import annotations

from pydantic import Field

from airflow_retrain_gate.core.checks.context import CheckInputs, outcome
from airflow_retrain_gate.core.checks.drift import column_drifts, drift_evidence
from airflow_retrain_gate.core.checks.registry import CheckSettings, register
from airflow_retrain_gate.core.findings import Action, Finding, Status
from airflow_retrain_gate.core.profiling.kinds import ProfileKind


class DriftPersistenceSettings(CheckSettings):
    """The share of judged days that must drift for drift to count as persistent."""

    min_share: float = Field(default=0.5, gt=0, le=1)


@register(
    "drift_persistence",
    settings=DriftPersistenceSettings,
    reads=(ProfileKind.FEATURES,),
    action=Action.ALERT,
    summary="Drift present on too few days of the current window is transient: alert, do not retrain.",
)
def check_drift_persistence(inputs: CheckInputs, settings: DriftPersistenceSettings) -> list[Finding]:
    """One finding per drifting column: transient (fail, alert) or persistent (pass)."""
    table = inputs.policy.tables.features.subject
    findings = []
    for drift in column_drifts(inputs):
        if not drift.shows_drift:
            continue
        subject = f"{table}.{drift.column}"
        days = drift.drifting_days
        if drift.judged_days < 2:
            findings.append(
                outcome(
                    "drift_persistence",
                    subject,
                    Status.INSUFFICIENT_DATA,
                    f"Column {subject} drifted, but fewer than 2 days had enough rows to tell whether it persists.",
                )
            )
            continue
        share = drift.persistence
        if share < settings.min_share and drift.rest_drifts:
            message = (
                f"Column {subject} drifts on {len(days)} of {drift.judged_days} days, and the other days together "
                "drift too: the change is spread over the window, too small for single days to show."
            )
            status = Status.PASS
        elif share < settings.min_share:
            message = (
                f"Column {subject} drifted only on {len(days)} of {drift.judged_days} days ({', '.join(days) or 'a few days'}): "
                "the change is transient. Retraining now would learn it; check what happened on those days."
            )
            status = Status.FAIL
        else:
            message = (
                f"Column {subject} drifts on {len(days)} of {drift.judged_days} days: the change persists."
            )
            status = Status.PASS
        findings.append(
            outcome(
                "drift_persistence",
                subject,
                status,
                message,
                action=inputs.policy.action_for("drift_persistence"),
                statistic="drifting_day_share",
                value=share,
                threshold=settings.min_share,
                evidence=drift_evidence(drift),
            )
        )
    if not findings:
        findings.append(
            outcome(
                "drift_persistence", table, Status.PASS, f"No feature of {table} drifted, transient or not."
            )
        )
    return findings
