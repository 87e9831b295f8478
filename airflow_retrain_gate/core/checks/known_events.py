"""known_events: drift on days covered by a known campaign, launch or incident is explained, deliberate
change: a person decides whether the model should learn it. Reads per-day drift and the events table."""

from __future__ import annotations

from pydantic import Field

from airflow_retrain_gate.core.checks.context import CheckInputs, outcome
from airflow_retrain_gate.core.checks.drift import column_drifts, drift_evidence
from airflow_retrain_gate.core.checks.registry import CheckSettings, register
from airflow_retrain_gate.core.events import describe_events, events_on, explained_days
from airflow_retrain_gate.core.findings import Action, Finding, Status
from airflow_retrain_gate.core.profiling.kinds import ProfileKind


class KnownEventsSettings(CheckSettings):
    """The share of drifting days an event must cover to explain the drift."""

    min_explained_share: float = Field(default=0.5, gt=0, le=1)


@register(
    "known_events",
    settings=KnownEventsSettings,
    reads=(ProfileKind.FEATURES, ProfileKind.EVENTS),
    action=Action.ALERT,
    summary="Drift on the days of a known campaign, launch or incident is explained: alert.",
)
def check_known_events(inputs: CheckInputs, settings: KnownEventsSettings) -> list[Finding]:
    """One finding per drifting column that events explain, or a pass naming the overlapping events."""
    events = inputs.profiles.events
    table = inputs.policy.tables.features.subject
    findings = []
    for drift in column_drifts(inputs):
        if not drift.shows_drift:
            continue
        affected = drift.drifting_days or list(drift.days)
        covered = explained_days(affected, events)
        share = len(covered) / len(affected) if affected else 0.0
        if covered and share >= settings.min_explained_share:
            subject = f"{table}.{drift.column}"
            findings.append(
                outcome(
                    "known_events",
                    subject,
                    Status.FAIL,
                    f"Column {subject} drifted on {', '.join(affected)}, which known event(s) cover: "
                    f"{describe_events(events_on(covered, events))}. This is deliberate or event-driven change; "
                    "decide whether the model should learn it before retraining.",
                    action=inputs.policy.action_for("known_events"),
                    statistic="explained_day_share",
                    value=share,
                    threshold=settings.min_explained_share,
                    evidence={
                        **drift_evidence(drift),
                        "events": [event.label() for event in events_on(covered, events)],
                    },
                )
            )
    if not findings:
        overlapping = describe_events(events) if events else "none"
        findings.append(
            outcome(
                "known_events",
                table,
                Status.PASS,
                f"No drift of {table} is explained by a known event (events overlapping the current window: {overlapping}).",
                evidence={"events": [event.label() for event in events]},
            )
        )
    return findings
