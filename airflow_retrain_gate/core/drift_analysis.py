"""Drift of each feature column, over the whole current window and day by day.

Numeric histograms are regrouped into bins of equal reference mass before PSI/JS; each current day is
compared with the reference days of the same weekday (when the reference spans two weeks or more), so
a weekly rhythm is not mistaken for drift. A window or day drifts when its change is material (PSI counted
as the Jensen-Shannon divergence counts it, so a rare value the reference never had cannot make it drift,
less the divergence sampling noise alone gives) and significant; the per-day tests of all columns are
adjusted together (Benjamini-Hochberg).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import numpy as np

from airflow_retrain_gate.core import stats
from airflow_retrain_gate.core.chart_evidence import BinComparison
from airflow_retrain_gate.core.multiple_testing import adjust_family
from airflow_retrain_gate.core.profiling.profiles import CategoricalProfile, NumericProfile, TableProfile

DEFAULT_THRESHOLDS = {"psi": (0.1, 0.25), "js": (0.1, 0.18), "ks": (0.1, 0.2), "wasserstein": (0.2, 0.5)}
"""(warn, fail) per statistic: PSI and JS as usual, KS as CDF distance, Wasserstein in reference std units."""


@dataclass(frozen=True)
class DriftSpec:
    """How drift is measured: statistic, thresholds, regrouped bins, least rows a day needs to be judged."""

    statistic: str
    warn: float
    fail: float
    bins: int
    min_day_rows: int
    alpha: float
    large_sample: int


@dataclass(frozen=True)
class ColumnDrift:
    """Drift of one column: the window-level effect and test, and which current days drift."""

    column: str
    kind: str
    statistic: str
    value: float
    material_value: float
    """The window's value as a bounded divergence counts it (see `HistogramComparison.material_value`); flags use it."""
    p_value: float
    sample_size: float
    reference_rows: int
    current_rows: int
    warn: bool
    """Window-level material value at or above the warn threshold, and significant."""
    fail: bool
    days: tuple[str, ...]
    daily_values: tuple[float | None, ...]
    """Per current day: the statistic against the matching reference days (None: too few rows)."""
    daily_q_values: tuple[float | None, ...]
    """Per current day: the test's p-value adjusted over every column's days (Benjamini-Hochberg)."""
    daily_drifting: tuple[bool | None, ...]
    """Per current day: a material change at the warn level, significant after adjustment (None: not judged)."""
    daily_strong: tuple[bool | None, ...]
    """Per current day: drifts at the fail level."""
    rest_drifts: bool
    """The days that do not drift, pooled, still drift at the warn level: the change is spread over the window,
    too small for single days to show, not confined to the drifting days."""
    chart: BinComparison
    """Reference vs current shares per (regrouped) bin, for the UI's charts."""

    @property
    def judged_days(self) -> int:
        """Days with enough rows to be judged."""
        return sum(flag is not None for flag in self.daily_drifting)

    @property
    def drifting_days(self) -> list[str]:
        """Days that drift at the warn level."""
        return [day for day, flag in zip(self.days, self.daily_drifting, strict=True) if flag]

    @property
    def persistence(self) -> float:
        """Share of judged days that drift (0 when no day could be judged)."""
        judged = self.judged_days
        return len(self.drifting_days) / judged if judged else 0.0

    @property
    def shows_drift(self) -> bool:
        """Drift somewhere: the whole window at warn level, or any single day at fail level."""
        return self.warn or any(flag for flag in self.daily_strong if flag)


def weekday_reference(
    reference: TableProfile, daily_counts: tuple[tuple[int, ...], ...]
) -> dict[int, np.ndarray]:
    """Reference histograms per weekday (0 = Monday) when the reference spans 14 days or more; else {}."""
    if len(reference.days) < 14:
        return {}
    by_weekday: dict[int, np.ndarray] = {}
    for day, counts in zip(reference.days, daily_counts, strict=True):
        weekday = date.fromisoformat(day).weekday()
        by_weekday[weekday] = by_weekday.get(weekday, 0) + np.asarray(counts, float)
    return by_weekday


JS_TO_PSI = 8.0
"""PSI and the Jensen-Shannon divergence both reduce to the chi-square divergence near no change, PSI = 8 x JSD
there; everywhere else 8 x JSD <= PSI (JSD's log ratio is bounded, PSI's is not)."""


def material_divergence(reference: np.ndarray, current: np.ndarray) -> float:
    """8 x JSD, less what sampling alone gives two samples of these sizes: (bins - 1) / effective size.

    With no change, effective size x PSI (and x 8 x JSD) follows a chi-square with bins - 1 degrees of freedom,
    so a 60-row day shows about 0.15 over 10 bins from noise alone; what exceeds it estimates the change itself.
    """
    _, _, dof = stats.chi_square(reference, current)
    size = stats.effective_size(reference.sum(), current.sum())
    noise = dof / size if size > 0 else 0.0
    return JS_TO_PSI * stats.jensen_shannon(reference, current) ** 2 - noise


@dataclass(frozen=True)
class HistogramComparison:
    """One histogram against another: the statistic, the part of it a material change must carry, the test."""

    value: float
    material_value: float
    """The change a material drift must carry, in the statistic's units: for PSI and JS, the divergence as JSD
    counts it, less what sampling noise gives (`material_divergence`); KS and Wasserstein as they are. A value
    the reference never had, on a small share s of rows, adds about 2.8 x s to it, while PSI's log ratio adds
    s x ln(s / pseudo-count share), which grows with the reference's size."""
    p_value: float
    sample_size: float


def _compare(
    spec: DriftSpec,
    kind: str,
    reference: np.ndarray,
    current: np.ndarray,
    groups: np.ndarray | None,
    centres: np.ndarray | None,
    scale: float,
) -> HistogramComparison:
    statistic = spec.statistic if kind == "numeric" or spec.statistic == "js" else "psi"
    size = stats.effective_size(reference.sum(), current.sum())
    if statistic in ("psi", "js"):
        ref = stats.regroup(reference, groups) if groups is not None else reference
        cur = stats.regroup(current, groups) if groups is not None else current
        _, p_value, _ = stats.chi_square(ref, cur)
        material = material_divergence(ref, cur)
        if statistic == "js":
            distance = math.sqrt(max(material, 0.0) / JS_TO_PSI)
            return HistogramComparison(stats.jensen_shannon(ref, cur), distance, p_value, size)
        return HistogramComparison(stats.psi(ref, cur), material, p_value, size)
    distance, p_value = stats.ks_binned(reference, current)
    if statistic == "ks":
        return HistogramComparison(distance, distance, p_value, size)
    assert centres is not None
    moved = stats.wasserstein_binned(centres, reference, current) / scale if scale > 0 else 0.0
    return HistogramComparison(moved, moved, p_value, size)


@dataclass(frozen=True)
class _Measured:
    """A column's comparisons before the per-day tests of all columns are judged together."""

    kind: str
    reference_profile: NumericProfile | CategoricalProfile
    current_profile: NumericProfile | CategoricalProfile
    groups: np.ndarray | None
    window: HistogramComparison
    daily: tuple[HistogramComparison | None, ...]
    rest: Callable[[list[bool]], HistogramComparison]
    """The comparison of the reference with the current days not excluded by the given mask, pooled."""
    """Per current day, against the reference days of the same weekday (None: too few rows)."""


def _measure(
    spec: DriftSpec,
    kind: str,
    reference_profile: NumericProfile | CategoricalProfile,
    current_profile: NumericProfile | CategoricalProfile,
    reference: TableProfile,
    current: TableProfile,
) -> _Measured:
    reference_counts = np.asarray(reference_profile.counts, float)
    current_counts = np.asarray(current_profile.counts, float)
    groups = centres = None
    scale = 1.0
    if isinstance(reference_profile, NumericProfile) and isinstance(current_profile, NumericProfile):
        groups = stats.equal_mass_groups(reference_counts, spec.bins)
        moments = reference_profile.moments.combine(current_profile.moments)
        centres = stats.bin_centres(reference_profile.edges, moments.minimum or 0.0, moments.maximum or 0.0)
        scale = reference_profile.moments.std
    by_weekday = weekday_reference(reference, reference_profile.daily_counts)
    daily: list[HistogramComparison | None] = []
    for day, counts in zip(current.days, current_profile.daily_counts, strict=True):
        day_counts = np.asarray(counts, float)
        # A day less than half inside the window (as_of mid-day) shows an intraday slice, not the day.
        if day_counts.sum() < spec.min_day_rows or current.window.day_coverage(date.fromisoformat(day)) < 0.5:
            daily.append(None)
            continue
        matched = by_weekday.get(date.fromisoformat(day).weekday(), reference_counts)
        daily.append(_compare(spec, kind, matched, day_counts, groups, centres, scale))
    window = _compare(spec, kind, reference_counts, current_counts, groups, centres, scale)

    def rest(excluded: list[bool]) -> HistogramComparison:
        kept = [index for index, left_out in enumerate(excluded) if not left_out]
        pooled = np.asarray([current_profile.daily_counts[index] for index in kept], float)
        pooled = pooled.sum(axis=0) if len(kept) else np.zeros_like(current_counts)
        return _compare(spec, kind, reference_counts, pooled, groups, centres, scale)

    return _Measured(kind, reference_profile, current_profile, groups, window, tuple(daily), rest)


def _judge(
    spec: DriftSpec, measured: _Measured, days: tuple[str, ...], daily_q_values: list[float | None]
) -> ColumnDrift:
    """Flag the window and each day whose material value reaches a threshold, days by their adjusted p-values."""
    statistic = spec.statistic if measured.kind == "numeric" or spec.statistic == "js" else "psi"
    warn_at, fail_at = (spec.warn, spec.fail) if statistic == spec.statistic else DEFAULT_THRESHOLDS["psi"]
    window = measured.window

    def material(comparison: HistogramComparison, threshold: float, p_value: float) -> bool:
        return stats.is_material(
            comparison.material_value,
            threshold,
            p_value,
            comparison.sample_size,
            spec.alpha,
            spec.large_sample,
        )

    def daily_flags(threshold: float) -> tuple[bool | None, ...]:
        return tuple(
            None if day is None or q_value is None else material(day, threshold, q_value)
            for day, q_value in zip(measured.daily, daily_q_values, strict=True)
        )

    drifting = daily_flags(warn_at)
    rest = measured.rest([bool(flag) for flag in drifting])
    return ColumnDrift(
        column=measured.reference_profile.column,
        kind=measured.kind,
        statistic=statistic,
        value=window.value,
        material_value=window.material_value,
        p_value=window.p_value,
        sample_size=window.sample_size,
        reference_rows=int(sum(measured.reference_profile.counts)),
        current_rows=int(sum(measured.current_profile.counts)),
        warn=material(window, warn_at, window.p_value),
        fail=material(window, fail_at, window.p_value),
        days=days,
        daily_values=tuple(None if day is None else day.value for day in measured.daily),
        daily_q_values=tuple(daily_q_values),
        daily_drifting=drifting,
        daily_strong=daily_flags(fail_at),
        rest_drifts=material(rest, warn_at, rest.p_value),
        chart=histogram_chart(measured.reference_profile, measured.current_profile, measured.groups),
    )


def histogram_chart(
    reference: NumericProfile | CategoricalProfile,
    current: NumericProfile | CategoricalProfile,
    groups: np.ndarray | None,
) -> BinComparison:
    """Reference vs current shares per (regrouped) bin, labelled, for the UI's charts."""
    reference_counts = np.asarray(reference.counts, float)
    current_counts = np.asarray(current.counts, float)
    if isinstance(reference, NumericProfile) and groups is not None:
        edges = list(reference.edges)
        bounds = [-np.inf, *edges, np.inf] if len(edges) > 1 else [-np.inf, edges[0], edges[0], np.inf]
        labels = []
        for group in range(int(groups.max()) + 1):
            members = np.nonzero(groups == group)[0]
            low, high = bounds[members[0]], bounds[members[-1] + 1]
            labels.append(f"{_short(low)} to {_short(high)}")
        reference_counts = stats.regroup(reference_counts, groups)
        current_counts = stats.regroup(current_counts, groups)
    else:
        labels = [*reference.categories, "(other)"] if isinstance(reference, CategoricalProfile) else []
    return BinComparison(labels, _shares(reference_counts), _shares(current_counts))


def _shares(counts: np.ndarray) -> list[float]:
    total = counts.sum()
    return [round(float(value / total), 6) if total else 0.0 for value in counts]


def _short(value: float) -> str:
    if value == -np.inf:
        return "-inf"
    if value == np.inf:
        return "+inf"
    return f"{value:.4g}"


def analyse_drift(reference: TableProfile, current: TableProfile, spec: DriftSpec) -> list[ColumnDrift]:
    """Drift of every feature column present in both profiles; the per-day tests of all columns are one family."""
    measured = [
        _measure(spec, "numeric", profile, current.numeric[name], reference, current)
        for name, profile in reference.numeric.items()
        if name in current.numeric
    ] + [
        _measure(spec, "categorical", profile, current.categorical[name], reference, current)
        for name, profile in reference.categorical.items()
        if name in current.categorical
    ]
    q_values = adjust_family(
        {
            column.reference_profile.column: [None if day is None else day.p_value for day in column.daily]
            for column in measured
        }
    )
    return [
        _judge(spec, column, current.days, q_values[column.reference_profile.column]) for column in measured
    ]
