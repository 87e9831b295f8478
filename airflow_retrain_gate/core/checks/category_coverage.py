"""category_coverage: the share of values the taxonomy does not cover (unseen, 'other', 'unknown') grows.

Reads per-day counts of the tracked (reference top-k) categories and the current window's own top values.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from airflow_retrain_gate.core import stats
from airflow_retrain_gate.core.chart_evidence import ChartKey, DailySeries
from airflow_retrain_gate.core.checks.context import CheckInputs, outcome
from airflow_retrain_gate.core.checks.registry import CheckSettings, register
from airflow_retrain_gate.core.events import describe_events, events_on, fully_explained
from airflow_retrain_gate.core.findings import Action, Finding, Status
from airflow_retrain_gate.core.profiling.kinds import ProfileKind
from airflow_retrain_gate.core.profiling.profiles import MISSING, CategoricalProfile

UNKNOWN_VALUES = [
    "other",
    "others",
    "unknown",
    "unk",
    "unclassified",
    "uncategorized",
    "misc",
    "n/a",
    "na",
    "none",
    "null",
    "undefined",
    "",
    "?",
    "-1",
]


class CategoryCoverageSettings(CheckSettings):
    """How much the uncovered share may grow, and which labels mean 'not classified'."""

    max_increase: float = Field(
        default=0.03, gt=0, lt=1, description="Growth of the uncovered share that fails."
    )
    unknown_values: list[str] = Field(
        default_factory=lambda: list(UNKNOWN_VALUES),
        description="Labels a categoriser uses for what it cannot classify (case-insensitive).",
    )


def uncovered_slots(profile: CategoricalProfile, unknown_values: list[str]) -> list[int]:
    """Slots that hold values the taxonomy does not cover: the 'other' slot and unknown-like labels."""
    unknown = {value.strip().lower() for value in unknown_values}
    slots = [index for index, name in enumerate(profile.categories) if name.strip().lower() in unknown]
    return [*slots, len(profile.categories)]


def _column(
    inputs: CheckInputs,
    subject: str,
    reference: CategoricalProfile,
    current: CategoricalProfile,
    days: tuple[str, ...],
    settings: CategoryCoverageSettings,
) -> Finding:
    slots = uncovered_slots(reference, settings.unknown_values)
    ref_total, cur_total = sum(reference.counts), sum(current.counts)
    if ref_total < inputs.min_rows or cur_total < inputs.min_rows:
        return outcome(
            "category_coverage",
            subject,
            Status.INSUFFICIENT_DATA,
            f"Column {subject} has fewer than {inputs.min_rows} non-null values in a window.",
        )
    ref_uncovered = float(np.asarray(reference.counts)[slots].sum())
    cur_uncovered = float(np.asarray(current.counts)[slots].sum())
    increase, p_value = stats.two_proportions(ref_uncovered, ref_total, cur_uncovered, cur_total)
    size = stats.effective_size(ref_total, cur_total)
    ref_share, cur_share = ref_uncovered / ref_total, cur_uncovered / cur_total
    known = set(reference.categories)
    new_values = [
        (value, count) for value, count in current.top_values if value not in known and value != MISSING
    ]
    labels = [*reference.categories, "(other)"]
    evidence = {
        "reference_share": ref_share,
        "current_share": cur_share,
        "uncovered_labels": [labels[slot] for slot in slots],
        "new_values": [{"value": value, "share": count / cur_total} for value, count in new_values[:10]],
        ChartKey.DAILY: DailySeries(
            days,
            {
                "uncovered_share": [
                    float(np.asarray(day)[slots].sum() / sum(day)) if sum(day) else None
                    for day in current.daily_counts
                ]
            },
            reference_level=ref_share,
        ).to_dict(),
    }
    if not inputs.material(increase, settings.max_increase, p_value, size):
        return outcome(
            "category_coverage",
            subject,
            Status.PASS,
            f"Column {subject}: uncovered share {ref_share:.1%} -> {cur_share:.1%} (within {settings.max_increase:.0%}).",
            statistic="uncovered_share_increase",
            value=increase,
            threshold=settings.max_increase,
            evidence=evidence,
        )
    affected = []
    for day, counts in zip(days, current.daily_counts, strict=True):
        total = sum(counts)
        if total:
            day_increase, day_p = stats.two_proportions(
                ref_uncovered, ref_total, float(np.asarray(counts)[slots].sum()), total
            )
            if inputs.material(
                day_increase, settings.max_increase, day_p, stats.effective_size(ref_total, total)
            ):
                affected.append(day)
    named = ", ".join(f"{value!r} ({count / cur_total:.1%})" for value, count in new_values[:5])
    message = (
        f"Column {subject}: the share of values the taxonomy does not cover grew from {ref_share:.1%} to "
        f"{cur_share:.1%}"
        + (f"; new values: {named}" if named else "")
        + ". The categoriser or its taxonomy is stale; "
        "fix the feature mapping before training."
    )
    explained = fully_explained(affected, inputs.profiles.events)
    if explained:
        message = (
            f"Column {subject}: uncovered values grew from {ref_share:.1%} to {cur_share:.1%}, only on days of "
            f"known event(s): {describe_events(events_on(affected, inputs.profiles.events))}. Check whether the "
            "event's traffic should be learned."
        )
    return outcome(
        "category_coverage",
        subject,
        Status.FAIL,
        message,
        action=Action.ALERT if explained else Action.FIX_FEATURES,
        statistic="uncovered_share_increase",
        value=increase,
        threshold=settings.max_increase,
        evidence={**evidence, "p_value": p_value, "affected_days": affected},
    )


@register(
    "category_coverage",
    settings=CategoryCoverageSettings,
    reads=(ProfileKind.FEATURES,),
    action=Action.FIX_FEATURES,
    summary="The share of unseen, 'other' or 'unknown' categories does not grow.",
    guards_training=True,
)
def check_category_coverage(inputs: CheckInputs, settings: CategoryCoverageSettings) -> list[Finding]:
    """One finding per categorical column."""
    reference, current = inputs.profiles.features_reference, inputs.profiles.features_current
    assert reference is not None and current is not None
    table = inputs.policy.tables.features.subject
    return [
        _column(inputs, f"{table}.{name}", profile, current.categorical[name], current.days, settings)
        for name, profile in reference.categorical.items()
    ]
