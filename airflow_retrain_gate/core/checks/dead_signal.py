"""dead_signal: a column that varied in the reference is frozen, constant, or stopped updating.

Reads per-day moments (numeric) and per-day category counts (categorical) of both windows.
"""

from __future__ import annotations

import math

from pydantic import Field

from airflow_retrain_gate.core.chart_evidence import ChartKey, DailySeries
from airflow_retrain_gate.core.checks.context import CheckInputs, outcome
from airflow_retrain_gate.core.checks.registry import CheckSettings, register
from airflow_retrain_gate.core.findings import Action, Finding, Status
from airflow_retrain_gate.core.moments import Moments
from airflow_retrain_gate.core.profiling.kinds import ProfileKind
from airflow_retrain_gate.core.profiling.profiles import CategoricalProfile, NumericProfile

MIN_ROWS_PER_DAY = 10
"""A day needs this many values before 'all equal' means frozen rather than chance."""


class DeadSignalSettings(CheckSettings):
    """How many trailing days of a frozen or locked column make it dead."""

    min_frozen_days: int = Field(default=2, ge=1, description="Trailing days with one value only.")
    min_locked_days: int = Field(default=3, ge=2, description="Trailing days with identical mean and spread.")


def _dead(subject: str, message: str, **numbers: object) -> Finding:
    """A failing finding asking to fix the feature; `numbers` are statistic, value, threshold, evidence."""
    return outcome("dead_signal", subject, Status.FAIL, message, action=Action.FIX_FEATURES, **numbers)  # type: ignore[arg-type]


def _unjudged(subject: str, window: str, values: int) -> Finding:
    """Too few values in a window to tell a frozen column from chance."""
    return outcome(
        "dead_signal",
        subject,
        Status.INSUFFICIENT_DATA,
        f"Column {subject} has only {values} values in the {window} window (fewer than {MIN_ROWS_PER_DAY}): "
        "whether it is frozen cannot be judged.",
    )


def _constant(day: Moments) -> bool:
    return day.count >= MIN_ROWS_PER_DAY and day.minimum is not None and day.minimum == day.maximum


def _same(a: Moments, b: Moments) -> bool:
    if a.count < MIN_ROWS_PER_DAY or b.count < MIN_ROWS_PER_DAY:
        return False
    return math.isclose(a.mean, b.mean, rel_tol=1e-9, abs_tol=1e-12) and math.isclose(
        a.std, b.std, rel_tol=1e-9, abs_tol=1e-12
    )


def _trailing(days: tuple[str, ...], flags: list[bool | None]) -> list[str]:
    """The run of flagged days at the end, skipping trailing days without data (None)."""
    run: list[str] = []
    for day, flag in zip(reversed(days), reversed(flags), strict=True):
        if flag is None and not run:
            continue
        if not flag:
            break
        run.append(day)
    return list(reversed(run))


def numeric_finding(
    subject: str,
    reference: NumericProfile,
    current: NumericProfile,
    days: tuple[str, ...],
    settings: DeadSignalSettings,
) -> Finding:
    """Whether a numeric column (a feature or the model's score) is frozen, empty, constant or replayed."""
    ref = reference.moments
    if ref.count < MIN_ROWS_PER_DAY:
        return _unjudged(subject, "reference", ref.count)
    if ref.minimum == ref.maximum:
        return outcome(
            "dead_signal",
            subject,
            Status.PASS,
            f"Column {subject} was constant in the reference too; nothing to compare.",
        )
    if sum(_constant(day) for day in reference.daily_moments) > len(reference.daily_moments) / 2:
        return outcome(
            "dead_signal",
            subject,
            Status.PASS,
            f"Column {subject} is often constant within a day; not judged.",
        )
    cur = current.moments
    empty_days = _trailing(
        days, [None if rows == 0 else nonnull == 0 for nonnull, rows in _daily_presence(current)]
    )
    if len(empty_days) >= settings.min_frozen_days:
        return _dead(
            subject,
            f"Column {subject} stopped updating on {empty_days[0]}: rows keep arriving but the column has no values "
            f"since ({len(empty_days)} days). The upstream metric looks deprecated.",
            statistic="empty_days",
            value=float(len(empty_days)),
            threshold=float(settings.min_frozen_days),
            evidence={"empty_since": empty_days[0]},
        )
    if cur.count < MIN_ROWS_PER_DAY and (cur.minimum is None or cur.minimum == cur.maximum):
        return _unjudged(subject, "current", cur.count)
    evidence = {
        ChartKey.DAILY: DailySeries(
            days,
            {
                "mean": [day.mean if day.count else None for day in current.daily_moments],
                "min": [day.minimum for day in current.daily_moments],
                "max": [day.maximum for day in current.daily_moments],
            },
        ).to_dict(),
        "reference": {"mean": ref.mean, "std": ref.std, "min": ref.minimum, "max": ref.maximum},
    }
    if cur.count >= MIN_ROWS_PER_DAY and cur.minimum == cur.maximum:
        return _dead(
            subject,
            f"Column {subject} is frozen: all {cur.count} values in the current window equal {cur.minimum:g} "
            f"(it varied between {ref.minimum:g} and {ref.maximum:g} in the reference). The source stopped updating.",
            statistic="std",
            value=0.0,
            threshold=0.0,
            evidence=evidence,
        )
    flags = [None if day.count < MIN_ROWS_PER_DAY else _constant(day) for day in current.daily_moments]
    run = _trailing(days, flags)
    values = {current.daily_moments[days.index(day)].minimum for day in run}
    if len(run) >= settings.min_frozen_days and len(values) == 1:
        return _dead(
            subject,
            f"Column {subject} stopped updating on {run[0]}: every value since is {values.pop():g} "
            f"({len(run)} days). The upstream metric looks deprecated or stuck.",
            statistic="frozen_days",
            value=float(len(run)),
            threshold=float(settings.min_frozen_days),
            evidence={**evidence, "frozen_since": run[0]},
        )
    moments = current.daily_moments
    repeats: list[bool | None] = [
        None,
        *(
            None if moments[i].count < MIN_ROWS_PER_DAY else _same(moments[i], moments[i - 1])
            for i in range(1, len(moments))
        ),
    ]
    locked = _trailing(days, repeats)
    reference_repeats = any(
        _same(reference.daily_moments[i], reference.daily_moments[i - 1])
        for i in range(1, len(reference.daily_moments))
    )
    if len(locked) + 1 >= settings.min_locked_days and not reference_repeats:
        first = days[days.index(locked[0]) - 1]
        return _dead(
            subject,
            f"Column {subject} is locked: since {first} every day has exactly the same distribution "
            f"(mean {moments[days.index(locked[-1])].mean:g}), as if a snapshot were replayed. The source stopped updating.",
            statistic="identical_days",
            value=float(len(locked) + 1),
            threshold=float(settings.min_locked_days),
            evidence={**evidence, "locked_since": first},
        )
    return outcome(
        "dead_signal",
        subject,
        Status.PASS,
        f"Column {subject} is alive: values vary day to day.",
        evidence=evidence,
    )


def _daily_presence(profile: NumericProfile) -> list[tuple[int, int]]:
    """(non-null values, rows) per day."""
    return [
        (moments.count + moments.extreme, moments.count + moments.extreme + nulls)
        for moments, nulls in zip(profile.daily_moments, profile.daily_nulls, strict=True)
    ]


def _single_slot(counts: tuple[int, ...]) -> int | None:
    nonzero = [index for index, count in enumerate(counts) if count]
    return nonzero[0] if len(nonzero) == 1 and sum(counts) >= MIN_ROWS_PER_DAY else None


def _categorical(
    subject: str,
    reference: CategoricalProfile,
    current: CategoricalProfile,
    days: tuple[str, ...],
    settings: DeadSignalSettings,
) -> Finding:
    total = sum(reference.counts)
    if total < MIN_ROWS_PER_DAY:
        return _unjudged(subject, "reference", total)
    if sum(current.counts) < MIN_ROWS_PER_DAY and sum(1 for count in current.counts if count) < 2:
        return _unjudged(subject, "current", sum(current.counts))
    varied = sum(1 for count in reference.counts if count / total >= 0.01) >= 2
    if not varied:
        return outcome(
            "dead_signal",
            subject,
            Status.PASS,
            f"Column {subject} had a single common value in the reference; not judged.",
        )
    labels = [*current.categories, "(other)"]
    single = _single_slot(current.counts)
    if single is not None and labels[single] != "(other)":
        return _dead(
            subject,
            f"Column {subject} is frozen: every row in the current window is {labels[single]!r} "
            "(the reference had several values). The source stopped updating.",
            statistic="distinct",
            value=1.0,
            threshold=1.0,
        )
    flags = [
        None if sum(day) < MIN_ROWS_PER_DAY else _single_slot(day) is not None for day in current.daily_counts
    ]
    run = _trailing(days, flags)
    values = {labels[_single_slot(current.daily_counts[days.index(day)]) or 0] for day in run}
    if len(run) >= settings.min_frozen_days and len(values) == 1:
        return _dead(
            subject,
            f"Column {subject} stopped updating on {run[0]}: every row since is {values.pop()!r} ({len(run)} days).",
            statistic="frozen_days",
            value=float(len(run)),
            threshold=float(settings.min_frozen_days),
        )
    return outcome(
        "dead_signal", subject, Status.PASS, f"Column {subject} is alive: several values each day."
    )


@register(
    "dead_signal",
    settings=DeadSignalSettings,
    reads=(ProfileKind.FEATURES,),
    action=Action.FIX_FEATURES,
    summary="Columns that varied in the reference are not frozen, constant or replayed.",
    guards_training=True,
)
def check_dead_signal(inputs: CheckInputs, settings: DeadSignalSettings) -> list[Finding]:
    """One finding per feature column."""
    reference, current = inputs.profiles.features_reference, inputs.profiles.features_current
    assert reference is not None and current is not None
    table = inputs.policy.tables.features.subject
    findings = [
        numeric_finding(f"{table}.{name}", profile, current.numeric[name], current.days, settings)
        for name, profile in reference.numeric.items()
    ]
    findings += [
        _categorical(f"{table}.{name}", profile, current.categorical[name], current.days, settings)
        for name, profile in reference.categorical.items()
    ]
    return findings
