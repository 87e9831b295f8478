"""Many tests judged together: Benjamini-Hochberg adjusted p-values over every day and column a check tests.

Testing 7 days x 20 columns at a level alpha each gives 140 chances of a false alarm. A check that runs such a
family compares each test's adjusted p-value (its q-value) with alpha instead: when nothing changed, the chance
of any false discovery in the family stays at most alpha; when some days did change, at most a share alpha of
the days flagged are false. Holm's adjustment keeps the chance of any false alarm at most alpha even when some
tests of the family did change: for a family where one flagged test decides on its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from scipy import stats as scipy_stats


def benjamini_hochberg(p_values: Sequence[float | None]) -> list[float | None]:
    """Adjusted p-values (None: not tested): a test is a discovery at false-discovery rate alpha when its adjusted
    p-value is below alpha."""
    tested = [index for index, p_value in enumerate(p_values) if p_value is not None]
    adjusted: list[float | None] = [None] * len(p_values)
    if tested:
        raw = np.clip([p_values[index] for index in tested], 0.0, 1.0)
        for index, q_value in zip(tested, scipy_stats.false_discovery_control(raw, method="bh"), strict=True):
            adjusted[index] = float(q_value)
    return adjusted


def adjust_family(
    p_values_by_member: Mapping[str, Sequence[float | None]],
) -> dict[str, list[float | None]]:
    """Benjamini-Hochberg over all the p-values of a family (column -> one per day; None: not tested), same shape."""
    flat = [p_value for p_values in p_values_by_member.values() for p_value in p_values]
    adjusted = benjamini_hochberg(flat)
    result: dict[str, list[float | None]] = {}
    start = 0
    for member, p_values in p_values_by_member.items():
        result[member] = adjusted[start : start + len(p_values)]
        start += len(p_values)
    return result


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values: a test is rejected when its adjusted p is below alpha, and the chance of
    any false rejection among all the tests stays at most alpha, whichever of them are true (family-wise)."""
    raw = np.clip(np.asarray(p_values, float), 0.0, 1.0)
    order = np.argsort(raw, kind="stable")
    scaled = raw[order] * (len(raw) - np.arange(len(raw)))
    adjusted = np.empty(len(raw))
    adjusted[order] = np.minimum(np.maximum.accumulate(scaled), 1.0)
    return adjusted.tolist()
