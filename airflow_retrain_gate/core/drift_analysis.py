"""Drift of each feature column, over the whole current window and day by day.

Numeric histograms are regrouped into bins of equal reference mass before PSI/JS; each current day is
compared with the reference days of the same weekday (when the reference spans two weeks or more), so
a weekly rhythm is not mistaken for drift.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from airflow_retrain_gate.core import stats
from airflow_retrain_gate.core.profiles import CategoricalProfile, NumericProfile, TableProfile

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
    p_value: float
    sample_size: float
    reference_rows: int
    current_rows: int
    warn: bool
    """Window-level effect at or above the warn threshold, and significant."""
    fail: bool
    days: tuple[str, ...]
    daily_values: tuple[float | None, ...]
    """Per current day: the statistic against the matching reference days (None: too few rows)."""
    daily_drifting: tuple[bool | None, ...]
    """Per current day: drifts at the warn level (None: not judged)."""
    daily_strong: tuple[bool | None, ...]
    """Per current day: drifts at the fail level."""
    chart: dict[str, list[float] | list[str]]

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


def _compare(
    spec: DriftSpec,
    kind: str,
    reference: np.ndarray,
    current: np.ndarray,
    groups: np.ndarray | None,
    centres: np.ndarray | None,
    scale: float,
) -> tuple[float, float]:
    statistic = spec.statistic if kind == "numeric" or spec.statistic == "js" else "psi"
    if statistic in ("psi", "js"):
        ref = stats.regroup(reference, groups) if groups is not None else reference
        cur = stats.regroup(current, groups) if groups is not None else current
        value = stats.psi(ref, cur) if statistic == "psi" else stats.jensen_shannon(ref, cur)
        _, p_value, _ = stats.chi_square(ref, cur)
        return value, p_value
    distance, p_value = stats.ks_binned(reference, current)
    if statistic == "ks":
        return distance, p_value
    assert centres is not None
    return stats.wasserstein_binned(centres, reference, current) / scale if scale > 0 else 0.0, p_value


def _column(
    spec: DriftSpec,
    kind: str,
    reference_profile: NumericProfile | CategoricalProfile,
    current_profile: NumericProfile | CategoricalProfile,
    reference: TableProfile,
    current: TableProfile,
) -> ColumnDrift:
    reference_counts = np.asarray(reference_profile.counts, float)
    current_counts = np.asarray(current_profile.counts, float)
    groups = centres = None
    scale = 1.0
    if isinstance(reference_profile, NumericProfile) and isinstance(current_profile, NumericProfile):
        groups = stats.equal_mass_groups(reference_counts, spec.bins)
        moments = reference_profile.moments.combine(current_profile.moments)
        centres = stats.bin_centres(reference_profile.edges, moments.minimum or 0.0, moments.maximum or 0.0)
        scale = reference_profile.moments.std
    statistic = spec.statistic if kind == "numeric" or spec.statistic == "js" else "psi"
    warn_at, fail_at = (spec.warn, spec.fail) if statistic == spec.statistic else DEFAULT_THRESHOLDS["psi"]
    value, p_value = _compare(spec, kind, reference_counts, current_counts, groups, centres, scale)
    size = stats.effective_size(reference_counts.sum(), current_counts.sum())
    by_weekday = weekday_reference(reference, reference_profile.daily_counts)
    daily_values: list[float | None] = []
    daily_drifting: list[bool | None] = []
    daily_strong: list[bool | None] = []
    for day, counts in zip(current.days, current_profile.daily_counts, strict=True):
        day_counts = np.asarray(counts, float)
        # A day less than half inside the window (as_of mid-day) shows an intraday slice, not the day.
        if day_counts.sum() < spec.min_day_rows or current.window.day_coverage(date.fromisoformat(day)) < 0.5:
            daily_values.append(None)
            daily_drifting.append(None)
            daily_strong.append(None)
            continue
        matched = by_weekday.get(date.fromisoformat(day).weekday(), reference_counts)
        day_value, day_p = _compare(spec, kind, matched, day_counts, groups, centres, scale)
        day_size = stats.effective_size(matched.sum(), day_counts.sum())
        daily_values.append(day_value)
        daily_drifting.append(
            stats.is_material(day_value, warn_at, day_p, day_size, spec.alpha, spec.large_sample)
        )
        daily_strong.append(
            stats.is_material(day_value, fail_at, day_p, day_size, spec.alpha, spec.large_sample)
        )
    return ColumnDrift(
        column=reference_profile.column,
        kind=kind,
        statistic=statistic,
        value=value,
        p_value=p_value,
        sample_size=size,
        reference_rows=int(reference_counts.sum()),
        current_rows=int(current_counts.sum()),
        warn=stats.is_material(value, warn_at, p_value, size, spec.alpha, spec.large_sample),
        fail=stats.is_material(value, fail_at, p_value, size, spec.alpha, spec.large_sample),
        days=current.days,
        daily_values=tuple(daily_values),
        daily_drifting=tuple(daily_drifting),
        daily_strong=tuple(daily_strong),
        chart=histogram_chart(reference_profile, current_profile, groups),
    )


def histogram_chart(
    reference: NumericProfile | CategoricalProfile,
    current: NumericProfile | CategoricalProfile,
    groups: np.ndarray | None,
) -> dict[str, list[float] | list[str]]:
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
    return {
        "labels": labels,
        "reference": _shares(reference_counts),
        "current": _shares(current_counts),
    }


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
    """Drift of every feature column present in both profiles."""
    drifts = []
    for name, profile in reference.numeric.items():
        if name in current.numeric:
            drifts.append(_column(spec, "numeric", profile, current.numeric[name], reference, current))
    for name, profile in reference.categorical.items():
        if name in current.categorical:
            drifts.append(
                _column(spec, "categorical", profile, current.categorical[name], reference, current)
            )
    return drifts
