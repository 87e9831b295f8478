"""Many tests judged together: Benjamini-Hochberg adjusted p-values over every day and column a check tests.

Testing 7 days x 20 columns at a level alpha each gives 140 chances of a false alarm. A check that runs such a
family compares each test's adjusted p-value (its q-value) with alpha instead: when nothing changed, the chance
of any false discovery in the family stays at most alpha; when some days did change, at most a share alpha of
the days flagged are false.
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
