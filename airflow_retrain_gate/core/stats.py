"""Statistics computed from aggregates (bin counts, moments), never from raw rows.

Every function takes counts or moments that came back from the warehouse. Effect sizes decide;
p-values guard small samples (see `is_material`). Tails come from scipy.special's ufuncs, the functions
scipy.stats' distributions call, without their argument checks (a tenth of the time; a backtest takes
thousands of p-values a date).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from scipy import special

from airflow_retrain_gate.core.moments import Moments

PSEUDO_COUNT = 0.5
"""Added to every bin before taking logs, so an empty bin gives a large but finite divergence."""


def effective_size(reference_n: float, current_n: float) -> float:
    """n1*n2/(n1+n2): the sample size a two-sample test effectively has."""
    if reference_n <= 0 or current_n <= 0:
        return 0.0
    return reference_n * current_n / (reference_n + current_n)


def is_material(
    value: float, threshold: float, p_value: float, sample_size: float, alpha: float, large_sample: int
) -> bool:
    """An effect fires when it reaches the threshold and, on samples below `large_sample`, is significant."""
    if not math.isfinite(value) or value < threshold:
        return False
    return sample_size >= large_sample or p_value < alpha


def _smoothed(counts: npt.ArrayLike) -> np.ndarray:
    array = np.asarray(counts, dtype=float) + PSEUDO_COUNT
    return array / array.sum()


def psi(reference_counts: npt.ArrayLike, current_counts: npt.ArrayLike) -> float:
    """Population stability index: sum((c - r) * ln(c / r)) over bins."""
    reference, current = _smoothed(reference_counts), _smoothed(current_counts)
    return float(np.sum((current - reference) * np.log(current / reference)))


def jensen_shannon(reference_counts: npt.ArrayLike, current_counts: npt.ArrayLike) -> float:
    """Jensen-Shannon distance (natural log; the square root of the divergence, 0..0.83)."""
    reference, current = _smoothed(reference_counts), _smoothed(current_counts)
    middle = (reference + current) / 2
    divergence = 0.5 * np.sum(reference * np.log(reference / middle)) + 0.5 * np.sum(
        current * np.log(current / middle)
    )
    return float(math.sqrt(max(divergence, 0.0)))


def chi_square(reference_counts: npt.ArrayLike, current_counts: npt.ArrayLike) -> tuple[float, float, int]:
    """Chi-square test of homogeneity of two histograms: (statistic, p-value, degrees of freedom)."""
    table = np.vstack([np.asarray(reference_counts, float), np.asarray(current_counts, float)])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return 0.0, 1.0, 0
    # Pearson's statistic on the 2 x k table (scipy's chi2_contingency without correction, minus its overhead).
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    statistic = float(np.sum((table - expected) ** 2 / expected))
    dof = table.shape[1] - 1
    return statistic, chi_square_p(statistic, dof), dof


def ks_binned(reference_counts: npt.ArrayLike, current_counts: npt.ArrayLike) -> tuple[float, float]:
    """Kolmogorov-Smirnov distance between binned CDFs, with the asymptotic two-sample p-value."""
    reference = np.asarray(reference_counts, float)
    current = np.asarray(current_counts, float)
    if reference.sum() == 0 or current.sum() == 0:
        return 0.0, 1.0
    distance = float(
        np.max(np.abs(np.cumsum(reference) / reference.sum() - np.cumsum(current) / current.sum()))
    )
    size = effective_size(reference.sum(), current.sum())
    p_value = float(special.kolmogorov(distance * math.sqrt(size))) if size > 0 else 1.0
    return distance, p_value


def bin_centres(edges: npt.ArrayLike, low: float, high: float) -> np.ndarray:
    """Representative values of the bins [underflow, fine bins..., overflow] given the data's observed range."""
    edges_array = np.asarray(edges, float)
    inner = (edges_array[:-1] + edges_array[1:]) / 2 if len(edges_array) > 1 else edges_array
    under = (min(low, edges_array[0]) + edges_array[0]) / 2
    over = (max(high, edges_array[-1]) + edges_array[-1]) / 2
    return np.concatenate([[under], inner, [over]])


def wasserstein_binned(
    centres: npt.ArrayLike, reference_counts: npt.ArrayLike, current_counts: npt.ArrayLike
) -> float:
    """Earth mover's distance between two histograms whose mass sits at the bin centres."""
    reference = np.asarray(reference_counts, float)
    current = np.asarray(current_counts, float)
    if reference.sum() == 0 or current.sum() == 0:
        return 0.0
    points = np.asarray(centres, float)
    cdf_gap = np.abs(np.cumsum(reference)[:-1] / reference.sum() - np.cumsum(current)[:-1] / current.sum())
    return float(np.sum(cdf_gap * np.diff(points)))


def equal_mass_groups(reference_counts: npt.ArrayLike, groups: int) -> np.ndarray:
    """Assign consecutive fine bins to about `groups` groups of equal reference mass; returns a group per bin."""
    reference = np.asarray(reference_counts, float)
    total = reference.sum()
    assignment = np.zeros(len(reference), dtype=int)
    if total == 0 or groups <= 1:
        return assignment
    cumulative = np.cumsum(reference) / total
    group = 0
    for index in range(len(reference)):
        assignment[index] = group
        if group < groups - 1 and cumulative[index] >= (group + 1) / groups - 1e-12:
            group += 1
    # Bins after the last reference mass join the last non-empty group instead of forming an empty one.
    last_group = assignment[np.nonzero(reference)[0][-1]] if reference.any() else 0
    return np.minimum(assignment, last_group)


def regroup(counts: npt.ArrayLike, assignment: np.ndarray) -> np.ndarray:
    """Sum fine-bin counts into the groups of `equal_mass_groups`."""
    return np.bincount(assignment, weights=np.asarray(counts, float), minlength=int(assignment.max()) + 1)


def two_proportions(
    successes_a: float, total_a: float, successes_b: float, total_b: float
) -> tuple[float, float]:
    """Difference of two rates (b - a) and the two-sided p-value of the pooled z-test."""
    if total_a <= 0 or total_b <= 0:
        return 0.0, 1.0
    rate_a, rate_b = successes_a / total_a, successes_b / total_b
    pooled = (successes_a + successes_b) / (total_a + total_b)
    variance = pooled * (1 - pooled) * (1 / total_a + 1 / total_b)
    if variance <= 0:
        return rate_b - rate_a, 1.0 if rate_a == rate_b else 0.0
    z = (rate_b - rate_a) / math.sqrt(variance)
    return rate_b - rate_a, float(2 * special.ndtr(-abs(z)))


def mean_difference(reference: Moments, current: Moments) -> tuple[float, float]:
    """Difference of means (current - reference) and the two-sided p-value of Welch's t-test."""
    if reference.count < 2 or current.count < 2:
        return current.mean - reference.mean, 1.0
    variance = reference.variance / reference.count + current.variance / current.count
    difference = current.mean - reference.mean
    if variance <= 0:
        return difference, 1.0 if difference == 0 else 0.0
    t = difference / math.sqrt(variance)
    return difference, float(2 * special.ndtr(-abs(t)))


def auc_from_bins(positives: npt.ArrayLike, negatives: npt.ArrayLike) -> tuple[float, float]:
    """Area under the ROC curve from positive/negative counts per ascending score bin, and its standard error.

    Ties inside a bin count one half, as the Mann-Whitney statistic does; the error is Hanley & McNeil's.
    """
    pos = np.asarray(positives, float)
    neg = np.asarray(negatives, float)
    n_pos, n_neg = pos.sum(), neg.sum()
    if n_pos == 0 or n_neg == 0:
        return math.nan, math.nan
    positives_above = np.cumsum(pos[::-1])[::-1] - pos
    auc = float(np.sum(neg * (positives_above + 0.5 * pos)) / (n_pos * n_neg))
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    variance = (auc * (1 - auc) + (n_pos - 1) * (q1 - auc * auc) + (n_neg - 1) * (q2 - auc * auc)) / (
        n_pos * n_neg
    )
    return auc, float(math.sqrt(max(variance, 0.0)))


def normal_p_value(difference: float, standard_error: float) -> float:
    """Two-sided p-value of a difference with a known standard error."""
    if not math.isfinite(standard_error) or standard_error <= 0:
        return 1.0 if difference == 0 else 0.0
    return float(2 * special.ndtr(-abs(difference) / standard_error))


def pooled_t_p_value(
    difference: float, reference_var: float, reference_n: float, current_var: float, current_n: float
) -> float:
    """Two-sided p-value of a difference of two means by Student's t-test with the pooled sample variance.

    Under the null hypothesis both groups share one distribution, so one variance serves both: a small group of
    rare 0/1 outcomes (few positives, a tiny sample variance) cannot look more certain than the null allows, as
    it would with its own variance (Welch)."""
    if reference_n < 2 or current_n < 2:
        return 1.0
    dof = reference_n + current_n - 2
    pooled = ((reference_n - 1) * reference_var + (current_n - 1) * current_var) / dof
    standard_error = math.sqrt(pooled * (1 / reference_n + 1 / current_n))
    if not math.isfinite(standard_error) or standard_error <= 0:
        return 1.0 if difference == 0 else 0.0
    return float(2 * special.stdtr(dof, -abs(difference) / standard_error))


def chi_square_p(statistic: float, dof: int) -> float:
    """Upper tail of the chi-square distribution."""
    if dof <= 0:
        return 1.0
    return float(special.chdtrc(dof, max(statistic, 0.0)))
