"""volume: rows per day in the current window against what the reference window had on the same weekday."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
from pydantic import Field
from scipy import stats as scipy_stats

from airflow_retrain_gate.core.chart_evidence import ChartKey, DailySeries
from airflow_retrain_gate.core.checks.context import CheckInputs, outcome
from airflow_retrain_gate.core.checks.registry import CheckSettings, register
from airflow_retrain_gate.core.checks.table_rows import empty_windows_message
from airflow_retrain_gate.core.events import describe_events, events_on, fully_explained
from airflow_retrain_gate.core.findings import Action, Finding, Status
from airflow_retrain_gate.core.multiple_testing import benjamini_hochberg
from airflow_retrain_gate.core.profiling.kinds import ProfileKind
from airflow_retrain_gate.core.profiling.profiles import TableProfile

MIN_EXPECTED_ROWS = 20


class VolumeSettings(CheckSettings):
    """How far row counts may fall (or rise) against the reference."""

    min_ratio: float = Field(
        default=0.5, gt=0, description="Window rows / expected below this: data is missing."
    )
    min_day_ratio: float = Field(
        default=0.5, gt=0, description="A day below this share of its expected rows is partial."
    )
    max_ratio: float = Field(
        default=3.0, gt=1, description="Window rows / expected above this is noted (no action)."
    )


def expected_rows(reference: TableProfile, current: TableProfile) -> np.ndarray:
    """Rows each current day should have: the median reference day of the same weekday, scaled by coverage."""
    full_days = [
        (date.fromisoformat(day), rows)
        for day, rows in zip(reference.days, reference.daily_rows, strict=True)
        if reference.window.day_coverage(date.fromisoformat(day)) >= 0.999
    ]
    overall = float(np.median([rows for _, rows in full_days])) if full_days else 0.0
    expected = []
    for day in current.days:
        weekday = date.fromisoformat(day).weekday()
        same = [rows for when, rows in full_days if when.weekday() == weekday]
        base = float(np.median(same)) if len(same) >= 2 else overall
        expected.append(base * current.window.day_coverage(date.fromisoformat(day)))
    return np.asarray(expected)


def _one_instant(profile: TableProfile) -> bool:
    """Several rows over a window of more than a day that all carry the same timestamp."""
    spans_days = profile.window.end - profile.window.start > timedelta(days=1)
    return (
        spans_days
        and profile.rows >= 2
        and profile.min_timestamp is not None
        and profile.min_timestamp == profile.max_timestamp
    )


def _one_instant_finding(inputs: CheckInputs, profile: TableProfile) -> Finding:
    table = inputs.policy.tables.features.subject
    stamp = profile.min_timestamp
    assert stamp is not None
    return outcome(
        "volume",
        table,
        Status.FAIL,
        f"All {profile.rows} rows of table {table} in the {profile.window.name} window share one timestamp, "
        f"{stamp:%Y-%m-%d %H:%M:%S} UTC: column {inputs.policy.tables.features.timestamp} holds a load time "
        "or a default, not when events happened. Fix the timestamp upstream before training.",
        action=Action.FIX_FEATURES,
        statistic="distinct_timestamps",
        value=1.0,
        threshold=2.0,
        evidence={"window": profile.window.name, "timestamp": stamp.isoformat(), "rows": profile.rows},
    )


@register(
    "volume",
    settings=VolumeSettings,
    reads=(ProfileKind.FEATURES,),
    action=Action.FIX_FEATURES,
    summary="Rows per day match the reference (same weekday); missing or partial days fail.",
    guards_training=True,
)
def check_volume(inputs: CheckInputs, settings: VolumeSettings) -> list[Finding]:
    """Fail when rows are missing from the current window or from some of its days."""
    reference, current = inputs.profiles.features_reference, inputs.profiles.features_current
    assert reference is not None and current is not None
    table = inputs.policy.tables.features.subject
    stamped_once = [profile for profile in (current, reference) if _one_instant(profile)]
    if stamped_once:
        return [_one_instant_finding(inputs, stamped_once[0])]
    empty = [profile.window for profile in (reference, current) if profile.rows == 0]
    if empty and empty != [current.window]:  # an empty current window alone is missing data, judged below
        mapping = inputs.policy.tables.features
        message = empty_windows_message("tables.features", mapping.table, mapping.filters, empty)
        return [outcome("volume", table, Status.ERROR, message + " Nothing to diagnose without them.")]
    expected = expected_rows(reference, current)
    if expected.sum() <= 0:
        return [
            outcome(
                "volume",
                table,
                Status.INSUFFICIENT_DATA,
                f"Table {table} has no rows on any full day of the reference window: the rows to expect are "
                "unknown, so volumes cannot be compared.",
            )
        ]
    observed = np.asarray(current.daily_rows, float)
    ratio = float(observed.sum() / expected.sum())
    evidence = {
        ChartKey.DAILY: DailySeries(
            current.days, {"rows": observed.tolist(), "expected": np.round(expected, 1).tolist()}
        ).to_dict(),
        "ratio": ratio,
    }
    coverage = [current.window.day_coverage(date.fromisoformat(day)) for day in current.days]
    # A partial day (as_of mid-day) is freshness's business: intraday rhythm varies. The days tested are one
    # family: each day's Poisson p-value is adjusted with the others' (Benjamini-Hochberg).
    shortfall_p_values = [
        float(scipy_stats.poisson.cdf(rows, wanted))
        if covered >= 0.999 and wanted >= MIN_EXPECTED_ROWS
        else None
        for rows, wanted, covered in zip(observed, expected, coverage, strict=True)
    ]
    partial_days = [
        day
        for day, rows, wanted, q_value in zip(
            current.days, observed, expected, benjamini_hochberg(shortfall_p_values), strict=True
        )
        if q_value is not None and rows < settings.min_day_ratio * wanted and q_value < inputs.alpha
    ]
    if ratio < settings.min_ratio or partial_days:
        if current.rows == 0:
            message = f"No rows arrived in table {table} during the current window (expected about {expected.sum():.0f})."
        elif partial_days:
            shares = ", ".join(
                f"{day} ({observed[current.days.index(day)] / expected[current.days.index(day)]:.0%})"
                for day in partial_days
            )
            message = (
                f"Table {table} is missing rows on {len(partial_days)} day(s): {shares} of the expected volume "
                "(late or partial loads)."
            )
        else:
            message = f"Table {table} has only {ratio:.0%} of the rows expected in the current window."
        explained = fully_explained(partial_days, inputs.profiles.events)
        action = Action.ALERT if explained else Action.FIX_FEATURES
        if explained:
            message += f" Known event(s) cover those days: {describe_events(events_on(partial_days, inputs.profiles.events))}."
        return [
            outcome(
                "volume",
                table,
                Status.FAIL,
                message,
                action=action,
                statistic="rows_ratio",
                value=ratio,
                threshold=settings.min_ratio,
                evidence={**evidence, "partial_days": partial_days},
            )
        ]
    if ratio > settings.max_ratio:
        return [
            outcome(
                "volume",
                table,
                Status.WARN,
                f"Table {table} has {ratio:.1f}x the rows expected in the current window.",
                statistic="rows_ratio",
                value=ratio,
                threshold=settings.max_ratio,
                evidence=evidence,
            )
        ]
    return [
        outcome(
            "volume",
            table,
            Status.PASS,
            f"Table {table} has {ratio:.0%} of the expected rows ({int(observed.sum())} rows).",
            statistic="rows_ratio",
            value=ratio,
            threshold=settings.min_ratio,
            evidence=evidence,
        )
    ]
