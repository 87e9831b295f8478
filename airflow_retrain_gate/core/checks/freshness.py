"""freshness: the feature table has rows up to as_of minus an allowed lag (reads the latest timestamp)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from airflow_retrain_gate.core.checks.context import CheckInputs, outcome
from airflow_retrain_gate.core.checks.registry import CheckSettings, register
from airflow_retrain_gate.core.checks.table_rows import describe_filters
from airflow_retrain_gate.core.findings import Action, Finding, Status
from airflow_retrain_gate.core.policy_types import Duration
from airflow_retrain_gate.core.profiling.kinds import ProfileKind
from airflow_retrain_gate.core.timeframes import format_duration, parse_duration


class FreshnessSettings(CheckSettings):
    """How old the newest feature row may be at as_of."""

    max_lag: Duration = Field(
        default="1d", description="Largest allowed gap between as_of and the newest row."
    )


@register(
    "freshness",
    settings=FreshnessSettings,
    reads=(ProfileKind.FEATURES,),
    action=Action.FIX_FEATURES,
    summary="The newest feature row is at most max_lag older than as_of.",
    guards_training=True,
)
def check_freshness(inputs: CheckInputs, settings: FreshnessSettings) -> list[Finding]:
    """Fail when the feature table stopped receiving rows (a stale or late pipeline)."""
    profiles = inputs.profiles
    table = inputs.policy.tables.features.subject
    max_lag = parse_duration(settings.max_lag)
    latest = profiles.latest_feature_timestamp
    evidence = {"as_of": inputs.as_of.isoformat(), "max_lag": settings.max_lag}
    if latest is None:
        since = inputs.reference.start.date().isoformat()
        filters = inputs.policy.tables.features.filters
        matching = f" matching tables.features.filters: {describe_filters(filters)}" if filters else ""
        later = profiles.first_feature_timestamp_after_as_of
        if later is not None:
            cause = (
                f"{matching}: its rows begin after as_of, at {later:%Y-%m-%d %H:%M} UTC; check the timestamps' "
                "time zone or unit, or decide as of a later date"
            )
        elif filters:
            cause = f"{matching}; check the filter values"
        else:
            cause = ": the feature pipeline is not delivering"
        return [
            outcome(
                "freshness",
                table,
                Status.FAIL,
                f"Table {table} has no rows at all since {since}{cause}.",
                action=Action.FIX_FEATURES,
                statistic="lag",
                threshold=max_lag.total_seconds(),
                evidence={
                    **evidence,
                    "latest_timestamp": None,
                    "first_timestamp_after_as_of": None if later is None else later.isoformat(),
                },
            )
        ]
    lag = max(inputs.as_of - latest, timedelta(0))  # a DATE dated today reaches past as_of
    evidence.update(latest_timestamp=latest.isoformat(), lag=format_duration(lag))
    if lag > max_lag:
        return [
            outcome(
                "freshness",
                table,
                Status.FAIL,
                f"Table {table} is stale: its newest rows reach {latest:%Y-%m-%d %H:%M} UTC, "
                f"{format_duration(lag)} before as_of (allowed lag {settings.max_lag}). Features are late; "
                "fix the pipeline before training.",
                action=Action.FIX_FEATURES,
                statistic="lag_seconds",
                value=lag.total_seconds(),
                threshold=max_lag.total_seconds(),
                evidence=evidence,
            )
        ]
    return [
        outcome(
            "freshness",
            table,
            Status.PASS,
            f"Table {table} is fresh: newest row {format_duration(lag)} before as_of (allowed {settings.max_lag}).",
            statistic="lag_seconds",
            value=lag.total_seconds(),
            threshold=max_lag.total_seconds(),
            evidence=evidence,
        )
    ]
