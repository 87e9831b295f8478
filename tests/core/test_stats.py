"""The statistics computed from aggregates agree with scipy/numpy on the raw samples they summarise."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as scipy_stats
from scipy.spatial.distance import jensenshannon

from airflow_retrain_gate.core import stats
from airflow_retrain_gate.core.moments import Moments

EDGES = np.linspace(-4.0, 4.0, 41)
samples = st.builds(
    lambda seed, shift, scale, size: np.clip(
        np.random.default_rng(seed).normal(shift, scale, size), -3.999, 3.999
    ),
    st.integers(0, 10_000),
    st.floats(-1.5, 1.5),
    st.floats(0.3, 2.0),
    st.integers(50, 3000),
)


def histogram(values: np.ndarray) -> np.ndarray:
    """Counts over EDGES with empty underflow and overflow slots, as profiles store them."""
    counts, _ = np.histogram(values, EDGES)
    return np.concatenate([[0], counts, [0]])


@settings(max_examples=60, deadline=None)
@given(samples, samples)
def test_ks_on_binned_cdfs_is_within_one_bin_of_scipy_on_raw_samples(
    reference: np.ndarray, current: np.ndarray
) -> None:
    binned, _ = stats.ks_binned(histogram(reference), histogram(current))
    raw = scipy_stats.ks_2samp(reference, current).statistic
    largest_bin = max(histogram(reference).max() / len(reference), histogram(current).max() / len(current))
    assert binned <= raw + 1e-12
    assert raw - binned <= largest_bin + 1e-12


@settings(max_examples=60, deadline=None)
@given(samples, samples)
def test_wasserstein_on_bins_is_within_one_bin_width_of_scipy(
    reference: np.ndarray, current: np.ndarray
) -> None:
    centres = stats.bin_centres(EDGES, -4.0, 4.0)
    binned = stats.wasserstein_binned(centres, histogram(reference), histogram(current))
    raw = scipy_stats.wasserstein_distance(reference, current)
    assert abs(binned - raw) <= EDGES[1] - EDGES[0]


@settings(max_examples=60, deadline=None)
@given(samples, samples)
def test_jensen_shannon_matches_scipy_on_the_same_smoothed_shares(
    reference: np.ndarray, current: np.ndarray
) -> None:
    ref, cur = histogram(reference) + stats.PSEUDO_COUNT, histogram(current) + stats.PSEUDO_COUNT
    expected = jensenshannon(ref / ref.sum(), cur / cur.sum())
    assert stats.jensen_shannon(histogram(reference), histogram(current)) == pytest.approx(expected, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(samples, samples)
def test_psi_is_the_symmetric_kl_of_the_smoothed_shares(reference: np.ndarray, current: np.ndarray) -> None:
    ref, cur = histogram(reference) + stats.PSEUDO_COUNT, histogram(current) + stats.PSEUDO_COUNT
    p, q = ref / ref.sum(), cur / cur.sum()
    symmetric_kl = scipy_stats.entropy(q, p) + scipy_stats.entropy(p, q)
    assert stats.psi(histogram(reference), histogram(current)) == pytest.approx(symmetric_kl, rel=1e-9)


@settings(max_examples=40, deadline=None)
@given(samples, samples)
def test_chi_square_matches_scipy_contingency_test(reference: np.ndarray, current: np.ndarray) -> None:
    table = np.vstack([histogram(reference), histogram(current)])
    table = table[:, table.sum(axis=0) > 0]
    expected = scipy_stats.chi2_contingency(table, correction=False)
    statistic, p_value, dof = stats.chi_square(histogram(reference), histogram(current))
    assert (statistic, dof) == (pytest.approx(expected.statistic), expected.dof)
    assert p_value == pytest.approx(expected.pvalue, abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10_000), st.integers(20, 2000), st.integers(20, 2000))
def test_auc_from_score_bins_equals_mann_whitney_on_the_binned_scores(
    seed: int, positives: int, negatives: int
) -> None:
    rng = np.random.default_rng(seed)
    positive_bins = rng.integers(3, 20, positives)
    negative_bins = rng.integers(0, 17, negatives)
    auc, error = stats.auc_from_bins(
        np.bincount(positive_bins, minlength=20), np.bincount(negative_bins, minlength=20)
    )
    u = scipy_stats.mannwhitneyu(positive_bins, negative_bins).statistic
    assert auc == pytest.approx(u / (positives * negatives), abs=1e-12)
    assert 0 < error < 0.5


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.floats(-1e6, 1e6), min_size=0, max_size=50), min_size=1, max_size=8))
def test_moments_combined_across_days_equal_numpy_on_all_values(days: list[list[float]]) -> None:
    parts = [
        Moments.from_aggregates(
            len(d),
            np.mean(d) if d else None,
            np.var(d) if d else None,
            min(d, default=None),
            max(d, default=None),
        )
        for d in days
    ]
    combined = Moments.combine_all(parts)
    values = np.concatenate([np.asarray(d, float) for d in days])
    assert combined.count == len(values)
    if len(values) > 1:
        assert combined.mean == pytest.approx(values.mean(), rel=1e-9, abs=1e-6)
        assert combined.variance == pytest.approx(values.var(ddof=1), rel=1e-7, abs=1e-3)
        assert (combined.minimum, combined.maximum) == (values.min(), values.max())


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 500), st.integers(600, 5000), st.integers(1, 500), st.integers(600, 5000))
def test_two_proportion_z_test_is_the_uncorrected_2x2_chi_square(a: int, n_a: int, b: int, n_b: int) -> None:
    difference, p_value = stats.two_proportions(a, n_a, b, n_b)
    expected = scipy_stats.chi2_contingency([[a, n_a - a], [b, n_b - b]], correction=False).pvalue
    assert difference == pytest.approx(b / n_b - a / n_a)
    assert p_value == pytest.approx(expected, rel=1e-6, abs=1e-12)


def test_effect_sizes_decide_on_large_samples_and_p_values_guard_small_ones() -> None:
    assert stats.is_material(0.3, 0.25, p_value=0.5, sample_size=1_000_000, alpha=0.001, large_sample=100_000)
    assert not stats.is_material(0.3, 0.25, p_value=0.5, sample_size=500, alpha=0.001, large_sample=100_000)
    assert not stats.is_material(
        0.01, 0.25, p_value=1e-30, sample_size=10**9, alpha=0.001, large_sample=100_000
    )


def test_equal_mass_groups_give_each_group_about_the_same_reference_share() -> None:
    counts = np.histogram(np.random.default_rng(1).lognormal(0, 1, 100_000), np.linspace(0, 20, 101))[0]
    groups = stats.equal_mass_groups(np.concatenate([[0], counts, [0]]), 10)
    shares = stats.regroup(np.concatenate([[0], counts, [0]]), groups) / counts.sum()
    assert len(shares) == 10
    assert shares.max() < 0.2
