"""scale_shift: values arrive on a new scale (a unit change): mean and spread both multiplied by one factor.

Reads window and per-day moments of numeric columns.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import median
from typing import TypeGuard

from pydantic import Field

from airflow_retrain_gate.core.chart_evidence import ChartKey, DailySeries
from airflow_retrain_gate.core.checks.context import CheckInputs, outcome
from airflow_retrain_gate.core.checks.registry import CheckSettings, register
from airflow_retrain_gate.core.findings import Action, Finding, Status
from airflow_retrain_gate.core.moments import Moments, spread_wander
from airflow_retrain_gate.core.profiling.kinds import ProfileKind
from airflow_retrain_gate.core.profiling.profiles import NumericProfile
from airflow_retrain_gate.core.sql import SAFE_MAGNITUDE

MIN_ROWS = 30
"""A day or window needs this many values for its spread to be a usable scale estimate."""
EXTREME_ORDERS = 6.0
"""Orders of magnitude above the reference's largest value that usual unit changes stay within (micro- is
10^6); even a Pareto tail of index 1 exceeds its past maximum that much with a chance below 1e-6 per value."""
RUN_TOLERANCE = math.log(1.5)
"""Days of one rescaling agree on its factor within 1.5x either way (a day's spread is a noisy estimate)."""


class ScaleShiftSettings(CheckSettings):
    """The smallest factor treated as a unit change, and how closely the location must follow it."""

    min_factor: float = Field(
        default=3.0, gt=1, description="Spread ratio (either way) that counts as a new scale."
    )
    location_tolerance: float = Field(
        default=0.5,
        gt=0,
        description="|mean/factor - reference mean| must stay below this many reference stds.",
    )


def scale_factor(reference: Moments, current: Moments, settings: ScaleShiftSettings) -> float | None:
    """The factor current = factor x reference when that explains both mean and spread; else None."""
    if current.count < MIN_ROWS or reference.std <= 0 or current.std <= 0:
        return None
    factor = current.std / reference.std
    if abs(math.log(factor)) < math.log(settings.min_factor):
        return None
    if abs(current.mean / factor - reference.mean) > settings.location_tolerance * reference.std:
        return None
    return factor


def extreme_values(subject: str, reference: Moments, current: Moments) -> Finding | None:
    """A failing finding when current values are corrupt magnitudes: beyond SAFE_MAGNITUDE, or more than
    EXTREME_ORDERS orders of magnitude above anything the reference held; None otherwise."""
    peak, usual = current.magnitude, reference.magnitude
    orders = math.log10(peak) - math.log10(usual) if peak > 0 and usual > 0 else 0.0  # a ratio may underflow
    if not current.extreme and orders <= EXTREME_ORDERS:
        return None
    beyond = f", {current.extreme} of them beyond +/-{SAFE_MAGNITUDE:g}" if current.extreme else ""
    return outcome(
        "scale_shift",
        subject,
        Status.FAIL,
        f"Column {subject} holds corrupt values: up to {peak:.3g} in the current window{beyond}, where the "
        f"reference never exceeded {usual:.3g} in magnitude. That is beyond any usual unit change; fix the "
        "feature upstream (an overflow, a sentinel, a misparsed number or a wrong unit) before training.",
        action=Action.FIX_FEATURES,
        statistic="magnitude_orders",
        value=orders,
        threshold=EXTREME_ORDERS,
        evidence={"current_peak": peak, "reference_peak": usual, "extreme_values": current.extreme},
    )


def typical_day(days: Sequence[Moments]) -> Moments | None:
    """The median mean and the median spread of the days with at least MIN_ROWS values, as one day's moments;
    None without such days.

    A unit change multiplies every value, so it moves the typical day. One outlier of a heavy-tailed column
    (a Pareto amount, a ratio with a small denominator) moves only its own day's and its window's moments,
    which made the window's spread alone a frequent false alarm.
    """
    usable = _usable(days)
    if not usable:
        return None
    count = sum(day.count for day in usable)
    std = median(day.std for day in usable)
    return Moments(count=count, mean=median(day.mean for day in usable), m2=std * std * (count - 1))


def _usable(days: Sequence[Moments]) -> list[Moments]:
    """The days with enough values for their spread to be a scale estimate."""
    return [day for day in days if day.count >= MIN_ROWS and day.std > 0]


@dataclass(frozen=True)
class Scale:
    """What a numeric column's scale is judged on: a window's typical day (or, with too few values a day, the
    window itself), how far one of its days may stray, and how far the typical day of `span` of them may."""

    moments: Moments
    wander: float
    span_wander: float

    @classmethod
    def of(cls, window: Moments, days: Sequence[Moments], by_day: bool, span: int = 1) -> Scale:
        """The typical day of `days` when `by_day`, else the whole window."""
        typical = typical_day(days) if by_day else None
        if typical is None:
            return cls(window, 0.0, 0.0)
        # How much the column varies on healthy days: a rescaling must go beyond it.
        return cls(typical, spread_wander(days, MIN_ROWS), spread_wander(days, MIN_ROWS, span))

    def heavy_tailed(self, settings: ScaleShiftSettings) -> bool:
        """Whether a healthy day's spread strays half the smallest factor or more: one outlier moves a day."""
        return self.wander >= math.log(settings.min_factor) / 2

    def run_days(self, settings: ScaleShiftSettings) -> int:
        """Days a run of rescaled days needs: one for light tails, two for heavy ones. By exchangeability, a healthy
        day strays beyond all of N reference days with a chance of 1/(N+1); two days in a row, 2/((N+1)(N+2)):
        0.2% with 28 days."""
        return 2 if self.heavy_tailed(settings) else 1


def typical_floor(days: Sequence[Moments]) -> float | None:
    """The median least value of the days with MIN_ROWS values, when each is positive; else None."""
    minima = [day.minimum for day in _usable(days)]
    if not minima or any(minimum is None or minimum <= 0 for minimum in minima):
        return None
    return median(minimum for minimum in minima if minimum is not None)


def floor_denies(
    factor: float, before: Sequence[Moments], after: Sequence[Moments], settings: ScaleShiftSettings
) -> bool:
    """Whether a positive column's typical least value says the days `after` are no rescaling of the days
    `before` by `factor`: it moved the other way, or less than half the smallest factor.

    A unit change multiplies every value, the least ones too, and those barely stray on healthy days where the
    spread of a heavy tail (a Pareto amount of index below 1) strays by its largest value. Judged on the spread
    alone, 5-17% of such healthy windows looked rescaled.
    """
    low, high = typical_floor(before), typical_floor(after)
    if low is None or high is None:
        return False
    moved = math.log(high / low)
    return moved * math.log(factor) <= 0 or abs(moved) < math.log(settings.min_factor) / 2


@dataclass(frozen=True)
class ReferenceBreak:
    """A rescaling that began inside the reference window: the current window and the reference's last days share
    a scale that the reference days before them did not have."""

    since: str
    """The first reference day on the new scale."""
    before: Moments
    """The typical reference day before it: the scale the column had."""
    factor: float
    days_before: tuple[Moments, ...]
    """The reference days before it."""


def reference_break(
    daily: Sequence[Moments], reference_days: tuple[str, ...], current: Moments, settings: ScaleShiftSettings
) -> ReferenceBreak | None:
    """The longest run of days ending the reference that, like the current window's typical day, is a rescaling
    of the typical reference day before it; None when there is none.

    A broken input that nobody fixes enters the reference window a few weeks later. Judged against the whole
    reference, which then holds both scales, the current window would look normal and the gate would train on
    the rescaled values; judged against the days before the break, it keeps failing until the reference window
    has passed the break entirely.
    """
    for start in range(1, len(daily)):
        before = typical_day(daily[:start])
        if before is None or daily[start].count < MIN_ROWS:
            continue
        factor = scale_factor(before, current, settings)
        if factor is None:
            continue
        factors = [scale_factor(before, day, settings) for day in daily[start:] if day.count >= MIN_ROWS]
        if all(day is not None and abs(math.log(day / factor)) <= RUN_TOLERANCE for day in factors):
            return ReferenceBreak(reference_days[start], before, factor, tuple(daily[:start]))
    return None


def magnitude_days(log_magnitudes: Sequence[Moments]) -> tuple[Moments, ...]:
    """Days of a heavy-tailed column as moments whose mean and spread are both its magnitude exp(mean ln|x|), the
    geometric mean of |x|: a unit change multiplies it, and no outlier moves it (ln|x| of a Cauchy or Pareto
    column has a finite variance), so the typical-day comparisons below judge it as they judge a light tail."""
    return tuple(
        Moments(count=day.count, mean=math.exp(day.mean), m2=math.exp(2 * day.mean) * max(day.count - 1, 0))
        if day.count
        else Moments()
        for day in log_magnitudes
    )


def _trailing_run(
    days: tuple[str, ...], factors: list[float | None], counts: list[int], tolerance: float
) -> list[tuple[str, float]]:
    run: list[tuple[str, float]] = []
    for day, factor, count in zip(reversed(days), reversed(factors), reversed(counts), strict=True):
        if count < MIN_ROWS and not run:
            continue
        if factor is None or (run and abs(math.log(factor / run[0][1])) > tolerance):
            break
        run.append((day, factor))
    return list(reversed(run))


def _onset(
    days: tuple[str, ...], factors: list[float | None], counts: list[int], factor: float
) -> str | None:
    """The day a change by `factor` began: the split of the window's days (of MIN_ROWS values or more) that leaves
    the fewest on the wrong side (before it, days straying beyond a healthy day in the direction of `factor`; from it
    on, days that do not), the earliest of equals; the window's first day when that is the first judged one, None
    when the days do not end at the new scale."""
    moved = [
        (day, _same_way(value, factor))
        for day, value, count in zip(days, factors, counts, strict=True)
        if count >= MIN_ROWS
    ]
    wrong = [
        sum(early for _, early in moved[:split]) + sum(not late for _, late in moved[split:])
        for split in range(len(moved) + 1)
    ]
    split = wrong.index(min(wrong))
    if split == len(moved):
        return None
    return moved[split][0] if split else days[0]


def _ended_run(
    days: tuple[str, ...], factors: list[float | None], counts: list[int]
) -> list[tuple[str, float]]:
    """The longest run of consecutive days rescaled one way (each straying beyond a healthy day, all in one direction)
    before the window's last day of MIN_ROWS values or more, the earliest of equals; empty when there is none."""
    last = max((index for index, count in enumerate(counts) if count >= MIN_ROWS), default=0)
    runs: list[list[tuple[str, float]]] = [[]]
    for day, value in zip(days[:last], factors[:last], strict=True):
        if value is None or (runs[-1] and not _same_way(value, runs[-1][0][1])):
            runs.append([])
        if value is not None:
            runs[-1].append((day, value))
    return max(runs, key=len)


def _last_moved(factors: list[float | None], counts: list[int], factor: float) -> bool | None:
    """Whether the window's last day of MIN_ROWS values or more strays in the direction of `factor`; None without
    such a day."""
    judged = [value for value, count in zip(factors, counts, strict=True) if count >= MIN_ROWS]
    if not judged:
        return None
    return _same_way(judged[-1], factor)


def _geometric_mean(run: list[tuple[str, float]]) -> float:
    """The geometric mean of the factors of a run of (day, factor)."""
    return math.exp(sum(math.log(value) for _, value in run) / len(run))


def _same_way(value: float | None, factor: float) -> TypeGuard[float]:
    """Whether a day's factor (None: within a healthy day's wander) rescales in the direction of `factor`."""
    return value is not None and math.log(value) * math.log(factor) > 0


def _beyond(factor: float | None, wander: float) -> float | None:
    """`factor` when it is further from 1 than a healthy day strays, else None."""
    return factor if factor is not None and abs(math.log(factor)) > wander else None


def scale_finding(
    subject: str,
    reference: NumericProfile,
    current: NumericProfile,
    days: tuple[str, ...],
    reference_days: tuple[str, ...],
    settings: ScaleShiftSettings,
) -> Finding:
    """Whether a numeric column (a feature or the score) moved to a new scale, over the window or its last days,
    or since a day inside the reference window."""
    ref, cur = reference.moments, current
    extreme = extreme_values(subject, ref, cur.moments)
    if extreme is not None:
        return extreme
    if ref.count < MIN_ROWS or cur.moments.count < MIN_ROWS:
        return outcome(
            "scale_shift",
            subject,
            Status.INSUFFICIENT_DATA,
            f"Column {subject} has {ref.count} reference and {cur.moments.count} current values, fewer than "
            f"{MIN_ROWS} in a window: its scale cannot be judged.",
        )
    if ref.std <= 0:
        return outcome(
            "scale_shift",
            subject,
            Status.PASS,
            f"Column {subject} was constant in the reference: it has no spread to compare a scale with.",
        )
    evidence = {
        "reference": {"mean": ref.mean, "std": ref.std},
        "current": {"mean": cur.moments.mean, "std": cur.moments.std},
        ChartKey.DAILY: DailySeries(
            days,
            {
                "mean": [day.mean if day.count else None for day in cur.daily_moments],
                "std": [day.std if day.count else None for day in cur.daily_moments],
            },
        ).to_dict(),
    }
    # Typical days are compared when both windows have them; else (a few values a day) the windows.
    reference_daily, current_daily = reference.daily_moments, cur.daily_moments
    current_days = _usable(current_daily)
    by_day = bool(current_days) and bool(_usable(reference_daily))
    # The current window's typical day must stray further than that of as many consecutive reference days.
    base = Scale.of(ref, reference_daily, by_day, span=len(current_days))
    heavy = by_day and base.heavy_tailed(settings)
    # A heavy-tailed column is judged on its days' magnitudes where they were counted (features); elsewhere (the
    # score) on its spreads, whose rescalings its least values must confirm.
    by_magnitude = heavy and bool(reference.daily_log_magnitudes) and bool(cur.daily_log_magnitudes)
    if by_magnitude:
        reference_daily = magnitude_days(reference.daily_log_magnitudes)
        current_daily = magnitude_days(cur.daily_log_magnitudes)
        current_days = _usable(current_daily)
        by_day = bool(current_days) and bool(_usable(reference_daily))
        base = Scale.of(ref, reference_daily, by_day, span=len(current_days))
        heavy = False
    now = Scale.of(cur.moments, current_daily, by_day).moments
    denials: list[float] = []

    def denied(factor: float | None, before: Sequence[Moments], after: Sequence[Moments]) -> bool:
        """Whether a heavy-tailed column's least values deny this rescaling (remembered for the message)."""
        if not heavy or factor is None or not floor_denies(factor, before, after, settings):
            return False
        denials.append(factor)
        return True

    broken = reference_break(reference_daily, reference_days, now, settings) if by_day else None
    if broken is not None and denied(broken.factor, broken.days_before, current_daily):
        broken = None
    since, baseline, within_reference = days[0], base.moments, broken is not None
    factor = _beyond(scale_factor(base.moments, now, settings), base.span_wander)
    if denied(factor, reference_daily, current_daily):
        factor = None
    # Each day's factor; the run of last days at one new scale; the longest run of rescaled days the last ones left.
    factors = [_beyond(scale_factor(base.moments, day, settings), base.wander) for day in current_daily]
    counts = [day.count for day in current_daily]
    tolerance = max(RUN_TOLERANCE, 2 * base.wander)  # two healthy days may stray either way
    run = _trailing_run(days, factors, counts, tolerance)
    run_moments = [current_daily[days.index(day)] for day, _ in run]
    run_factor = _geometric_mean(run) if run else None
    ended = _ended_run(days, factors, counts)
    until: str | None = None
    """The last rescaled day, where the window's last days are back at the reference's scale."""
    if broken is not None:
        since, baseline, factor = broken.since, broken.before, broken.factor
    elif factor is not None:
        # The window's typical day moved: where its last days are back at the old scale, the change ended with the
        # run of days before them; where only its last days moved, it began with them.
        if _last_moved(factors, counts, factor) is False and ended and _same_way(ended[0][1], factor):
            moved, until = ended, ended[-1][0]
        else:
            onset = _onset(days, factors, counts, factor)
            moved = [
                (day, value)
                for day, value in zip(days, factors, strict=True)
                if onset is not None and day >= onset and _same_way(value, factor)
            ]
        if moved and (until is not None or moved[0][0] > days[0]):
            since, factor = moved[0][0], _geometric_mean(moved)
            now = typical_day([current_daily[days.index(day)] for day, _ in moved]) or now
    if factor is None:
        if len(run) >= base.run_days(settings) and not denied(run_factor, reference_daily, run_moments):
            since, factor = run[0][0], run_factor
            now = typical_day(run_moments) or now
        elif len(ended) > base.run_days(settings):
            # Days at a new scale that the last days left again: undone upstream, but still in the window. Such a
            # run may lie anywhere in the window, so it needs one day more than a run that ends the window.
            ended_factor = _geometric_mean(ended)
            ended_moments = [current_daily[days.index(day)] for day, _ in ended]
            if not denied(ended_factor, reference_daily, ended_moments):
                since, until, factor = ended[0][0], ended[-1][0], ended_factor
                now = typical_day(ended_moments) or now
    if factor is None:
        ratio = now.std / base.moments.std if now.count >= 2 else 1.0
        denial = (
            f"; its spread looked {denials[0]:.3g}x, but its least values did not move with it: a heavy tail's "
            "outliers, not a unit change"
            if denials
            else ""
        )
        return outcome(
            "scale_shift",
            subject,
            Status.PASS,
            f"Column {subject} keeps its scale ({'magnitude' if by_magnitude else 'spread'} ratio {ratio:.2f}{denial}).",
            statistic="scale_factor",
            value=ratio,
            threshold=settings.min_factor,
            evidence=evidence,
        )
    compared = (
        "the reference days before it (the reference window holds the new scale since then too)"
        if within_reference
        else "the reference"
    )
    if until is not None:
        began, advice = (
            f"from {since} to {until}",
            "Looks like a unit change upstream that was undone; the rescaled rows are still in the window: fix "
            "them, do not retrain on them.",
        )
    else:
        began = (
            f"since {since}"
            if within_reference or since != days[0] or _last_moved(factors, counts, factor) is False
            else f"throughout the current window (since {since} or earlier)"
        )
        advice = "Looks like a unit change upstream; fix the feature, do not retrain on it."
    unit = "a typical day's" if by_day else "the window's"
    measured = (
        f"{unit} magnitude, the geometric mean of |x|, {baseline.mean:.4g} -> {now.mean:.4g}"
        if by_magnitude
        else f"{unit} mean {baseline.mean:.4g} -> {now.mean:.4g}, std {baseline.std:.4g} -> {now.std:.4g}"
    )
    return outcome(
        "scale_shift",
        subject,
        Status.FAIL,
        f"Column {subject} changed scale: {began} values are about {factor:.3g}x {compared} ({measured}). {advice}",
        action=Action.FIX_FEATURES,
        statistic="scale_factor",
        value=factor,
        threshold=settings.min_factor,
        evidence={
            **evidence,
            "reference": {"mean": baseline.mean, "std": baseline.std},
            "current": {"mean": now.mean, "std": now.std},
            "since": since,
            "until": until,
            "since_within_reference": within_reference,
            "compared": "typical day's magnitude" if by_magnitude else "typical day" if by_day else "window",
        },
    )


@register(
    "scale_shift",
    settings=ScaleShiftSettings,
    reads=(ProfileKind.FEATURES,),
    action=Action.FIX_FEATURES,
    summary="Numeric columns keep their unit: mean and spread are not multiplied by one factor.",
    guards_training=True,
)
def check_scale_shift(inputs: CheckInputs, settings: ScaleShiftSettings) -> list[Finding]:
    """One finding per numeric column; fails on a consistent rescaling of the whole window or its last days."""
    reference, current = inputs.profiles.features_reference, inputs.profiles.features_current
    assert reference is not None and current is not None
    table = inputs.policy.tables.features.subject
    return [
        scale_finding(
            f"{table}.{name}", profile, current.numeric[name], current.days, reference.days, settings
        )
        for name, profile in reference.numeric.items()
    ]
