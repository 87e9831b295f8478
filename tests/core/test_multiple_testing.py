"""Benjamini-Hochberg adjusted p-values, over one list or a family of columns x days."""

from __future__ import annotations

import numpy as np
import pytest

from airflow_retrain_gate.core.multiple_testing import adjust_family, benjamini_hochberg


def test_each_p_value_is_scaled_by_the_tests_over_its_rank_and_kept_monotone() -> None:
    # Sorted: 0.001 (x5/1), 0.01 (x5/2), 0.03 (x5/3), 0.04 (x5/4 = 0.05 > 0.05 of rank 3), 0.5 (x5/5).
    adjusted = benjamini_hochberg([0.01, 0.04, 0.03, 0.5, 0.001])

    assert adjusted == pytest.approx([0.025, 0.05, 0.05, 0.5, 0.005])


def test_untested_days_stay_untested_and_do_not_count() -> None:
    assert benjamini_hochberg([None, 0.01, None, 0.02]) == pytest.approx([None, 0.02, None, 0.02])
    assert benjamini_hochberg([None]) == [None]


def test_a_family_is_adjusted_as_one_list_and_keeps_its_shape() -> None:
    family = {"amount": [0.01, None, 0.04], "purpose": [0.03, 0.5, 0.001]}

    adjusted = adjust_family(family)

    assert list(adjusted) == ["amount", "purpose"]
    assert adjusted["amount"] == pytest.approx([0.025, None, 0.05])
    assert adjusted["purpose"] == pytest.approx([0.05, 0.5, 0.005])


def test_with_no_change_anywhere_a_family_of_140_days_rarely_has_any_discovery() -> None:
    rng = np.random.default_rng(7)
    families = rng.uniform(size=(500, 140))
    alpha = 0.05

    raw_any = (families < alpha).any(axis=1).mean()
    adjusted_any = np.mean(
        [min(q for q in benjamini_hochberg(list(p)) if q is not None) < alpha for p in families]
    )

    assert raw_any > 0.99
    assert adjusted_any <= alpha + 3 * np.sqrt(alpha * (1 - alpha) / len(families))
