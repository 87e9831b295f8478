"""Outcomes adjusted for the score mix: what the current predictions would show if outcome-given-score
were still the reference's. Comparing with this, instead of the raw reference, keeps covariate shift
(a different mix of scores) from looking like a change of the target."""

from __future__ import annotations

import numpy as np

from airflow_retrain_gate.core import stats
from airflow_retrain_gate.core.profiling.profiles import OutcomeProfile

SCORE_GROUPS = 20


def score_groups(reference: OutcomeProfile, count: str = "matured", groups: int = SCORE_GROUPS) -> np.ndarray:
    """Fine score bins grouped into about `groups` groups of equal reference mass of `count`."""
    return stats.equal_mass_groups(reference.by_bin(count), groups)


def reference_means(reference: OutcomeProfile, total: str, count: str, groups: np.ndarray) -> np.ndarray:
    """Per score group: the reference's mean of `total` per `count` (the overall mean where a group is empty)."""
    sums = stats.regroup(reference.by_bin(total), groups)
    counts = stats.regroup(reference.by_bin(count), groups)
    overall = sums.sum() / counts.sum() if counts.sum() else 0.0
    return np.divide(sums, counts, out=np.full_like(sums, overall), where=counts > 0)


def expected_mean(reference_by_group: np.ndarray, current_counts: np.ndarray, groups: np.ndarray) -> float:
    """The mean the current counts per fine bin would show under the reference's per-group means."""
    counts = stats.regroup(current_counts, groups)
    if counts.sum() == 0:
        return float("nan")
    return float(np.sum(counts * reference_by_group) / counts.sum())


def expected_auc(reference: OutcomeProfile, current_counts: np.ndarray) -> tuple[float, float]:
    """(AUC, its standard error) that predictions with `current_counts` per fine score bin would show if each
    score group kept the reference's outcome rate (NaN when those rates are all 0 or all 1)."""
    groups = score_groups(reference)
    rates = reference_means(reference, "label_sum", "matured", groups)
    counts = stats.regroup(current_counts, groups)
    return stats.auc_from_bins(counts * rates, counts * (1 - rates))


def adjusted_change(
    reference: OutcomeProfile, current: OutcomeProfile, total: str, count: str, days: list[int] | None = None
) -> tuple[float, float, float]:
    """(actual current mean, expected current mean at the reference's outcome-given-score, current count)."""
    groups = score_groups(reference, count)
    current_counts = current.by_bin(count, days)
    actual = (
        float(current.by_bin(total, days).sum() / current_counts.sum())
        if current_counts.sum()
        else float("nan")
    )
    expected = expected_mean(reference_means(reference, total, count, groups), current_counts, groups)
    return actual, expected, float(current_counts.sum())
