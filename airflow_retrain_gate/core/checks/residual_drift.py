"""residual_drift: the outcome given the inputs changed in a way calibration by score bin does not show. The mean
residual (label - score) of matured predictions, by reference bin of a feature, moved between the windows: the model
is now wrong about P(outcome | inputs) for those rows, even if every score bin stays calibrated on average.

A bin counts when it holds a material share of the current rows, its shift reaches `min_shift` (in outcome-rate
terms) and its test survives Holm's correction over every bin of every feature. Persistent in both halves of the
window: `train`; otherwise `alert`. Under pure covariate shift residuals keep their level in each bin: no finding.
Reads the residual sums, squares and counts per day x feature bin of both windows."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from pydantic import Field

from airflow_retrain_gate.core import stats
from airflow_retrain_gate.core.chart_evidence import BinComparison, ChartKey
from airflow_retrain_gate.core.checks.concept_drift import MIN_BIN_LABELS, score_ranges
from airflow_retrain_gate.core.checks.context import CheckInputs, not_configured, outcome
from airflow_retrain_gate.core.checks.label_maturity import unjudged
from airflow_retrain_gate.core.checks.metric_range import metric_error, out_of_range
from airflow_retrain_gate.core.checks.registry import CheckSettings, register
from airflow_retrain_gate.core.findings import Action, Finding, Status
from airflow_retrain_gate.core.multiple_testing import holm
from airflow_retrain_gate.core.profiling.kinds import ProfileKind
from airflow_retrain_gate.core.profiling.profiles import FeatureResiduals, OutcomeProfile, display_label


class ResidualDriftSettings(CheckSettings):
    """How far the mean residual of a feature bin may move, and which bins are compared."""

    min_shift: float = Field(
        default=0.2,
        gt=0,
        description="Change of a bin's mean residual (label - score), relative to the base rate "
        "(0/1 labels: min(rate, 1 - rate)) or to the label's std (numeric labels), as concept_drift measures it.",
    )
    bins: int = Field(
        default=10, ge=2, le=50, description="Bins of equal reference mass per numeric feature."
    )
    min_share: float = Field(
        default=0.05, gt=0, le=1, description="Share of the current window's rows a bin must hold to count."
    )


@dataclass(frozen=True)
class BinResiduals:
    """One feature's mean residual per bin in both windows, and the test of each bin's change."""

    feature: str
    labels: list[str]
    reference: np.ndarray
    current: np.ndarray
    shares: np.ndarray
    """Share of the current window's joined rows in each bin."""
    shifts: np.ndarray
    """(current - reference) mean residual per bin, relative to the outcome's scale."""
    p_values: np.ndarray
    sizes: np.ndarray
    """Effective sample size of each bin's two-window test."""
    usable: np.ndarray
    """Bins with enough rows in both windows and a material share of the current rows."""


def compare_bins(
    reference: FeatureResiduals,
    current: FeatureResiduals,
    groups: np.ndarray,
    scale: float,
    min_share: float,
    days: list[int] | None = None,
) -> BinResiduals:
    """Mean residuals per group of slots in both windows (the current one over `days`), their relative shift and
    its two-sided t-test with the pooled variance from the sums of squares (see stats.pooled_t_p_value)."""
    ref_n, cur_n = (
        stats.regroup(side.by_slot("n", d), groups) for side, d in ((reference, None), (current, days))
    )
    ref_sum = stats.regroup(reference.by_slot("residual_sum"), groups)
    cur_sum = stats.regroup(current.by_slot("residual_sum", days), groups)
    ref_sq = stats.regroup(reference.by_slot("residual_sq"), groups)
    cur_sq = stats.regroup(current.by_slot("residual_sq", days), groups)
    ref_size, cur_size = np.maximum(ref_n, 1), np.maximum(cur_n, 1)
    ref_mean, cur_mean = ref_sum / ref_size, cur_sum / cur_size
    # Sample variances (n - 1): a bin of a few dozen labels must not look more certain than it is.
    ref_var = np.maximum(ref_sq - ref_size * ref_mean**2, 0.0) / np.maximum(ref_n - 1, 1)
    cur_var = np.maximum(cur_sq - cur_size * cur_mean**2, 0.0) / np.maximum(cur_n - 1, 1)
    difference = cur_mean - ref_mean
    shares = cur_n / max(float(cur_n.sum()), 1.0)
    usable = (ref_n >= MIN_BIN_LABELS) & (cur_n >= MIN_BIN_LABELS) & (shares >= min_share)
    labels = (
        [display_label(category) for category in current.categories]
        if current.categories
        else score_ranges(current.edges, groups)
    )
    return BinResiduals(
        feature=current.column,
        labels=labels,
        reference=ref_mean,
        current=cur_mean,
        shares=shares,
        shifts=difference / scale,
        p_values=np.array(
            [
                stats.pooled_t_p_value(*values)
                for values in zip(difference, ref_var, ref_n, cur_var, cur_n, strict=True)
            ]
        ),
        sizes=np.array([stats.effective_size(r, c) for r, c in zip(ref_n, cur_n, strict=True)]),
        usable=usable,
    )


def outcome_scale(reference: OutcomeProfile) -> float:
    """What a shift of the mean residual is measured against: min(rate, 1 - rate) of 0/1 labels, else the label's
    std (the scale concept_drift uses)."""
    moments = reference.label_moments()
    if reference.label_kind == "binary":
        return min(moments.mean, 1 - moments.mean)
    return moments.std


def feature_groups(reference: FeatureResiduals, bins: int) -> np.ndarray:
    """Slots grouped into about `bins` bins of equal reference mass (numeric); one per category (categorical)."""
    if reference.categories:
        return np.arange(len(reference.categories))
    return stats.equal_mass_groups(reference.by_slot("n"), bins)


@dataclass(frozen=True)
class MaterialBin:
    """A bin whose mean residual moved materially and significantly."""

    comparison: BinResiduals
    index: int
    p_value: float
    """Holm-adjusted."""

    @property
    def shift(self) -> float:
        """The bin's relative shift."""
        return float(self.comparison.shifts[self.index])


@register(
    "residual_drift",
    settings=ResidualDriftSettings,
    reads=(ProfileKind.OUTCOMES, ProfileKind.FEATURES, ProfileKind.RESIDUALS),
    action=Action.TRAIN,
    summary="The mean residual (label - score) by bin of a feature moved on matured labels, even with "
    "calibrated score bins: train.",
)
def check_residual_drift(inputs: CheckInputs, settings: ResidualDriftSettings) -> list[Finding]:
    """One finding for outcome-given-inputs, showing the feature whose residuals moved most."""
    profiles, tables = inputs.profiles, inputs.policy.tables
    subject = tables.features.subject
    if tables.predictions is not None and tables.features.entity is None:
        return [
            not_configured(
                "residual_drift",
                subject,
                "tables.features.entity",
                "Not configured: map tables.features.entity (the key predictions carry) to compare residuals by "
                "feature bin.",
            )
        ]
    blocked = unjudged(inputs, "residual_drift", subject)
    if blocked:
        return [blocked]
    reference, current = profiles.residuals_reference, profiles.residuals_current
    outcomes_reference = profiles.outcomes_reference
    assert outcomes_reference is not None
    if reference is None or current is None:
        return [
            outcome(
                "residual_drift",
                subject,
                Status.INSUFFICIENT_DATA,
                "Residual drift compares label - score by feature bin, one score per prediction, and this model has one per "
                "class (residuals per class are not supported yet); concept_drift and performance judge each class "
                "against the others.",
            )
        ]
    needed = inputs.policy.check_settings("label_maturity").min_labels
    if min(reference.rows, current.rows) < needed:
        return [
            outcome(
                "residual_drift",
                subject,
                Status.INSUFFICIENT_DATA,
                f"Only {reference.rows} reference and {current.rows} current matured predictions joined a row of "
                f"{subject} of the same entity and day (need {needed} each); check that tables.features.entity "
                "holds the key of tables.predictions.entity.",
            )
        ]
    scale = outcome_scale(outcomes_reference)
    if not scale > 0:
        return [
            outcome(
                "residual_drift",
                subject,
                Status.INSUFFICIENT_DATA,
                "The reference's labels do not vary: residuals have nothing to be compared against.",
            )
        ]
    groups = {name: feature_groups(reference.features[name], settings.bins) for name in current.features}
    comparisons = [
        compare_bins(
            reference.features[name], current.features[name], groups[name], scale, settings.min_share
        )
        for name in current.features
    ]
    tested = [
        (comparison, int(index)) for comparison in comparisons for index in np.nonzero(comparison.usable)[0]
    ]
    if not tested:
        return [
            outcome(
                "residual_drift",
                subject,
                Status.INSUFFICIENT_DATA,
                f"Too few matured predictions per feature bin (need {MIN_BIN_LABELS} in each window) to compare "
                "residuals.",
            )
        ]
    adjusted = holm([float(comparison.p_values[index]) for comparison, index in tested])
    largest = max(abs(float(comparison.shifts[index])) for comparison, index in tested)
    problem = out_of_range(
        {
            "the largest residual shift of a feature bin": (largest, 0.0, math.inf),
            "the smallest adjusted p-value": (min(adjusted), 0.0, 1.0),
        }
    )
    if problem:
        return [metric_error(inputs, "residual_drift", subject, problem)]
    material = [
        MaterialBin(comparison, index, p_value)
        for (comparison, index), p_value in zip(tested, adjusted, strict=True)
        if inputs.material(
            abs(float(comparison.shifts[index])), settings.min_shift, p_value, float(comparison.sizes[index])
        )
    ]
    what = "outcome rate" if outcomes_reference.label_kind == "binary" else "mean outcome"
    if not material:
        top_comparison, top_index = max(tested, key=lambda item: abs(float(item[0].shifts[item[1]])))
        return [
            outcome(
                "residual_drift",
                f"{subject}.{top_comparison.feature}",
                Status.PASS,
                f"The {what} keeps its gap to the score in every bin of every feature: no bin's change is both "
                f"material and significant (largest shift {largest:.2f}, threshold {settings.min_shift}).",
                statistic="residual_shift",
                value=largest,
                threshold=settings.min_shift,
                evidence=_evidence(top_comparison, outcomes_reference.label_kind, {}, []),
            )
        ]
    top = max(material, key=lambda item: abs(item.shift))
    halves = [
        float(
            compare_bins(
                reference.features[top.comparison.feature],
                current.features[top.comparison.feature],
                groups[top.comparison.feature],
                scale,
                settings.min_share,
                days,
            ).shifts[top.index]
        )
        for days in current.halves()
        if days
    ]
    persistent = len(halves) == 2 and all(
        math.isfinite(half) and half * top.shift > 0 and abs(half) >= settings.min_shift / 2
        for half in halves
    )
    moved = {
        item.comparison.feature: max(
            abs(other.shift) for other in material if other.comparison is item.comparison
        )
        for item in material
    }
    evidence = _evidence(top.comparison, outcomes_reference.label_kind, moved, halves)
    evidence["p_value"] = top.p_value
    message = _message(top, what, outcomes_reference.label_kind, settings.min_shift, moved, persistent)
    return [
        outcome(
            "residual_drift",
            f"{subject}.{top.comparison.feature}",
            Status.FAIL,
            message,
            action=Action.TRAIN if persistent else Action.ALERT,
            statistic="residual_shift",
            value=abs(top.shift),
            threshold=settings.min_shift,
            evidence=evidence,
        )
    ]


def _evidence(
    comparison: BinResiduals, label_kind: str, moved: dict[str, float], halves: list[float]
) -> dict[str, object]:
    """The chart of the feature's mean residual per bin, and which features moved how far."""
    return {
        "feature": comparison.feature,
        ChartKey.RESIDUAL_BY_FEATURE_BIN: BinComparison(
            comparison.labels,
            comparison.reference.round(6).tolist(),
            comparison.current.round(6).tolist(),
            comparison.shares.round(4).tolist(),
        ).to_dict(),
        "moved_features": {name: round(shift, 4) for name, shift in moved.items()},
        "half_shifts": halves,
        "label_kind": label_kind,
    }


def _message(
    top: MaterialBin, what: str, label_kind: str, threshold: float, moved: dict[str, float], persistent: bool
) -> str:
    """The on-call sentence: which rows, how the outcome departs from the score there, and what to do."""
    comparison, index = top.comparison, top.index

    def gap(value: float) -> str:
        if label_kind == "binary":
            return f"{abs(value) * 100:.1f} points {'above' if value >= 0 else 'below'}"
        return f"{abs(value):.3g} {'above' if value >= 0 else 'below'}"

    rows = (
        f"predictions with {comparison.feature} {comparison.labels[index]} "
        f"({comparison.shares[index]:.0%} of current rows)"
    )
    detail = (
        f"for {rows} the {what} now runs {gap(float(comparison.current[index]))} the score "
        f"(reference: {gap(float(comparison.reference[index]))}), a shift of {abs(top.shift):.2f} "
        f"(threshold {threshold})"
    )
    others = sorted(name for name in moved if name != comparison.feature)
    also = f"; residuals also moved by {', '.join(others)}" if others else ""
    if persistent:
        return (
            f"The outcome given the inputs changed: {detail}, in both halves of the window, on matured labels"
            f"{also}. The model is wrong for those rows, even where its score bins hold: retrain."
        )
    return (
        f"The {what} given the inputs moved ({detail}{also}) but not in both halves of the window: transient; "
        "look before retraining."
    )
