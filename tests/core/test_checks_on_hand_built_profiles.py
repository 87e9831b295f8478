"""Checks called directly on hand-built profiles, no warehouse: a features table (amount, channel) whose current
week tells one story (a shifted feature, a frozen column, new categories, NULLs, a missing day) or outcomes whose
rate per score bin changed. Each check fails on its story with the statistic that decided, and passes when the
table stays healthy or the change is too small."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from scipy import stats as scipy_stats

from airflow_retrain_gate.core import Status, parse_policy
from airflow_retrain_gate.core.checks import REGISTRY
from airflow_retrain_gate.core.checks.context import CheckInputs
from airflow_retrain_gate.core.findings import Action, Finding
from airflow_retrain_gate.core.moments import Moments
from airflow_retrain_gate.core.profiling.profile_set import ProfileSet
from airflow_retrain_gate.core.profiling.profiles import (
    CategoricalProfile,
    NumericProfile,
    OutcomeProfile,
    TableProfile,
)
from airflow_retrain_gate.core.timeframes import TimeWindow

AS_OF = datetime(2024, 6, 1, tzinfo=UTC)
REFERENCE = TimeWindow("reference", AS_OF - timedelta(days=35), AS_OF - timedelta(days=7))
CURRENT = TimeWindow("current", AS_OF - timedelta(days=7), AS_OF)
WEEK = [date.isoformat() for date in CURRENT.days()]
POLICY = parse_policy(
    {
        "name": "hand-built",
        "windows": {"reference": {"start": "-35d", "end": "-7d"}, "current": {"start": "-7d", "end": "0d"}},
        "tables": {
            "features": {
                "table": "features",
                "timestamp": "event_ts",
                "numeric": ["amount"],
                "categorical": ["channel"],
            },
            "predictions": {
                "table": "predictions",
                "timestamp": "event_ts",
                "entity": "id",
                "score": "score",
            },
            "outcomes": {
                "table": "outcomes",
                "entity": "id",
                "label_timestamp": "label_ts",
                "label": "outcome",
            },
        },
    }
)

AMOUNT_EDGES = tuple(float(edge) for edge in np.linspace(-4, 4, 17))
"""The reference's bin edges of `amount`: slot 0 is the underflow, then 16 fine bins, then the overflow."""
CHANNELS = ("web", "app", "store")
"""The channels the reference tracks (its most frequent); any other value counts in the 'other' slot."""
USUAL_CHANNELS = {"web": 200, "app": 150, "store": 50}
"""A day's rows per channel: 400 rows a day."""


@dataclass(frozen=True)
class Day:
    """One day of the features table: its `amount` values (NaN is NULL) and its rows per `channel` value."""

    amounts: np.ndarray
    channels: dict[str, int]


def day(*, shift: float = 0.0, null_share: float = 0.0, channels: dict[str, int] = USUAL_CHANNELS) -> Day:
    """A day with the given rows per channel: its amounts are a standard normal's quantiles (no randomness)
    moved by `shift`, `null_share` of them NULL (spread evenly over the values)."""
    rows = sum(channels.values())
    amounts = shift + scipy_stats.norm.ppf((np.arange(rows) + 0.5) / rows)
    amounts[np.linspace(0, rows - 1, round(null_share * rows)).astype(int)] = np.nan
    return Day(amounts, channels)


NO_ROWS = day(channels={})


def features(window: TimeWindow, days: list[Day]) -> TableProfile:
    """The features profile of `window` (one Day per calendar day), aggregated as the profiler would."""
    names = tuple(date.isoformat() for date in window.days())
    assert len(days) == len(names), f"the {window.name} window has {len(names)} days"
    daily_rows = tuple(len(one.amounts) for one in days)
    return TableProfile(
        table="features",
        window=window,
        rows=sum(daily_rows),
        max_timestamp=window.end - timedelta(seconds=1) if sum(daily_rows) else None,
        days=names,
        daily_rows=daily_rows,
        numeric={"amount": amount_profile(days)},
        categorical={"channel": channel_profile(days)},
        min_timestamp=window.start if sum(daily_rows) else None,
    )


def amount_profile(days: list[Day]) -> NumericProfile:
    """`amount` over the days: NULLs, moments and the histogram on AMOUNT_EDGES, per day and in all."""
    present = [one.amounts[~np.isnan(one.amounts)] for one in days]
    daily_moments = tuple(
        Moments.from_aggregates(len(values), values.mean(), values.var(), values.min(), values.max())
        if len(values)
        else Moments()
        for values in present
    )
    slots = [np.searchsorted(AMOUNT_EDGES, values, side="right") for values in present]
    daily_counts = tuple(
        totals(np.bincount(day_slots, minlength=len(AMOUNT_EDGES) + 1)) for day_slots in slots
    )
    daily_nulls = tuple(len(one.amounts) - len(values) for one, values in zip(days, present, strict=True))
    return NumericProfile(
        column="amount",
        nulls=sum(daily_nulls),
        moments=Moments.combine_all(daily_moments),
        edges=AMOUNT_EDGES,
        counts=totals(np.sum(daily_counts, axis=0)),
        daily_counts=daily_counts,
        daily_moments=daily_moments,
        daily_nulls=daily_nulls,
    )


def channel_profile(days: list[Day]) -> CategoricalProfile:
    """`channel` over the days: rows per tracked channel and in the 'other' slot, and the window's top values."""
    daily_counts = tuple(
        (
            *(one.channels.get(name, 0) for name in CHANNELS),
            sum(rows for value, rows in one.channels.items() if value not in CHANNELS),
        )
        for one in days
    )
    seen = sum((Counter(one.channels) for one in days), Counter())
    return CategoricalProfile(
        column="channel",
        nulls=0,
        categories=CHANNELS,
        counts=totals(np.sum(daily_counts, axis=0)),
        daily_counts=daily_counts,
        daily_nulls=(0,) * len(days),
        top_values=tuple(seen.most_common()),
    )


def totals(counts: np.ndarray) -> tuple[int, ...]:
    """Counts as the profile holds them."""
    return tuple(int(count) for count in counts)


HEALTHY_REFERENCE = [day()] * 28


def judge(check: str, current_week: list[Day]) -> dict[str, Finding]:
    """The findings of `check` by subject (``features.amount`` ...) on a healthy reference and `current_week`."""
    profiles = ProfileSet(
        features_reference=features(REFERENCE, HEALTHY_REFERENCE),
        features_current=features(CURRENT, current_week),
    )
    inputs = CheckInputs(profiles, POLICY, AS_OF, REFERENCE, CURRENT)
    return {
        finding.subject: finding for finding in REGISTRY[check].evaluate(inputs, POLICY.check_settings(check))
    }


@pytest.mark.parametrize("shift", [0.75, 1.5])
def test_a_shifted_histogram_fails_drift_on_psi(shift: float) -> None:
    finding = judge("drift", [day(shift=shift)] * 7)["features.amount"]
    assert (finding.status, finding.statistic, finding.threshold) == (Status.FAIL, "psi", 0.25)
    assert finding.value is not None and finding.value >= 0.25
    assert finding.evidence["drifting_days"] == WEEK


@pytest.mark.parametrize("shift", [0.0, 0.05])
def test_an_equal_or_barely_moved_histogram_passes_drift(shift: float) -> None:
    finding = judge("drift", [day(shift=shift)] * 7)["features.amount"]
    assert (finding.status, finding.statistic, finding.threshold) == (Status.PASS, "psi", 0.1)
    assert finding.value is not None and finding.value < 0.1


def test_a_moderate_shift_warns() -> None:
    finding = judge("drift", [day(shift=0.5)] * 7)["features.amount"]
    assert (finding.status, finding.statistic, finding.threshold) == (Status.WARN, "psi", 0.1)
    assert finding.value is not None and 0.1 <= finding.value < 0.25


@pytest.mark.parametrize(
    ("frozen_days", "status"), [(0, Status.PASS), (1, Status.PASS), (2, Status.FAIL), (4, Status.FAIL)]
)
def test_a_channel_stuck_on_one_value_for_the_last_days_is_a_dead_signal(
    frozen_days: int, status: Status
) -> None:
    week = [day()] * (7 - frozen_days) + [day(channels={"web": 400})] * frozen_days
    finding = judge("dead_signal", week)["features.channel"]
    assert finding.status is status
    if status is Status.FAIL:
        assert (finding.statistic, finding.value, finding.action) == (
            "frozen_days",
            frozen_days,
            Action.FIX_FEATURES,
        )
        assert finding.message.startswith(
            f"Column features.channel stopped updating on {WEEK[7 - frozen_days]}"
        )


def test_a_channel_frozen_all_week_is_a_dead_signal() -> None:
    finding = judge("dead_signal", [day(channels={"web": 400})] * 7)["features.channel"]
    assert (finding.status, finding.statistic, finding.value) == (Status.FAIL, "distinct", 1.0)
    assert "every row in the current window is 'web'" in finding.message


@pytest.mark.parametrize("kiosk_rows", [40, 200])
def test_a_new_channel_fails_category_coverage(kiosk_rows: int) -> None:
    week = [day(channels={**USUAL_CHANNELS, "kiosk": kiosk_rows})] * 7
    coverage = judge("category_coverage", week)["features.channel"]
    assert (coverage.status, coverage.statistic) == (Status.FAIL, "uncovered_share_increase")
    assert coverage.value == pytest.approx(kiosk_rows / (400 + kiosk_rows))
    assert "new values: 'kiosk'" in coverage.message
    assert coverage.evidence["affected_days"] == WEEK


def test_a_rare_new_channel_passes_category_coverage() -> None:
    week = [day(channels={**USUAL_CHANNELS, "kiosk": 4})] * 7
    coverage = judge("category_coverage", week)["features.channel"]
    assert coverage.status is Status.PASS and coverage.value == pytest.approx(4 / 404)


@pytest.mark.parametrize("null_share", [0.1, 0.5, 1.0])
def test_a_rising_null_share_fails_null_rate(null_share: float) -> None:
    findings = judge("null_rate", [day(null_share=null_share)] * 7)
    amount = findings["features.amount"]
    assert (amount.status, amount.statistic) == (Status.FAIL, "null_share_increase")
    assert amount.value == pytest.approx(null_share)
    assert findings["features.channel"].status is Status.PASS


def test_a_null_spike_on_one_day_fails_null_rate_though_the_week_stays_within() -> None:
    amount = judge("null_rate", [day()] * 6 + [day(null_share=0.3)])["features.amount"]
    assert (amount.status, amount.statistic, amount.threshold) == (Status.FAIL, "null_share_increase", 0.05)
    assert amount.value == pytest.approx(0.3 / 7)
    assert amount.evidence["spike_days"] == [WEEK[6]]


def test_a_few_nulls_pass_null_rate() -> None:
    amount = judge("null_rate", [day(null_share=0.02)] * 7)["features.amount"]
    assert amount.status is Status.PASS and amount.value == pytest.approx(0.02)


@pytest.mark.parametrize("missing", [[3], [0, 6], [1, 2, 4, 5]])
def test_days_without_rows_fail_volume(missing: list[int]) -> None:
    week = [NO_ROWS if index in missing else day() for index in range(7)]
    [volume] = judge("volume", week).values()
    assert (volume.status, volume.statistic) == (Status.FAIL, "rows_ratio")
    assert volume.value == pytest.approx((7 - len(missing)) / 7)
    assert volume.evidence["partial_days"] == [WEEK[index] for index in missing]


def test_a_full_week_passes_volume() -> None:
    [volume] = judge("volume", [day()] * 7).values()
    assert (volume.status, volume.statistic, volume.value) == (Status.PASS, "rows_ratio", 1.0)


SCORE_EDGES = tuple(float(edge) for edge in np.linspace(0, 1, 11))
"""Ten score bins of width 0.1 (slot 0 and the last slot, scores outside [0, 1], stay empty)."""
LABELS_PER_BIN = 140
"""Matured labels in each score bin of a window."""


def outcomes(window: TimeWindow, rate_factor: float = 1.0) -> OutcomeProfile:
    """Matured 0/1 outcomes of a calibrated model, times `rate_factor`: in each score bin the outcome rate is the
    bin's middle score times the factor. Every prediction has matured; the labels are spread evenly over the days."""
    middles = (np.asarray(SCORE_EDGES[:-1]) + np.asarray(SCORE_EDGES[1:])) / 2
    matured = np.array([0.0, *[LABELS_PER_BIN] * len(middles), 0.0])
    positives = matured * np.array([0.0, *middles * rate_factor, 0.0])
    days = tuple(date.isoformat() for date in window.days())
    sums = {"n": matured, "matured": matured, "label_sum": positives, "label_sq": positives}  # y * y = y
    return OutcomeProfile(
        window=window,
        predictions=int(matured.sum()),
        matured=int(matured.sum()),
        label_kind="binary",
        score_edges=SCORE_EDGES,
        days=days,
        daily_bins={metric: (tuple(values / len(days)),) * len(days) for metric, values in sums.items()},
        label_classes=(0.0, 1.0),
        whole_labels=True,
    )


def judge_outcomes(check: str, rate_factor: float) -> Finding:
    """The one finding of `check` on calibrated reference outcomes and current outcomes at `rate_factor`."""
    profiles = ProfileSet(
        outcomes_reference=outcomes(REFERENCE),
        outcomes_current=outcomes(CURRENT, rate_factor),
        outcomes_have_predictions=True,
    )
    inputs = CheckInputs(profiles, POLICY, AS_OF, REFERENCE, CURRENT)
    [finding] = REGISTRY[check].evaluate(inputs, POLICY.check_settings(check))
    return finding


@pytest.mark.parametrize("rate_factor", [0.5, 0.7])
def test_outcome_rates_falling_at_every_score_fail_concept_drift(rate_factor: float) -> None:
    """The scores no longer mean what they did. The shift is the mean change of the outcome rate per score bin
    relative to the base rate (0.5 here): rates times 0.7 move it by 0.3, in both halves of the week."""
    finding = judge_outcomes("concept_drift", rate_factor)
    assert (finding.status, finding.statistic) == (Status.FAIL, "calibration_shift")
    assert finding.value == pytest.approx(1 - rate_factor) and finding.action is Action.TRAIN
    assert finding.evidence["half_shifts"] == pytest.approx([1 - rate_factor] * 2)


@pytest.mark.parametrize("rate_factor", [1.0, 0.95])
def test_steady_outcome_rates_pass_concept_drift(rate_factor: float) -> None:
    finding = judge_outcomes("concept_drift", rate_factor)
    assert (finding.status, finding.statistic) == (Status.PASS, "calibration_shift")
    assert finding.value == pytest.approx(1 - rate_factor, abs=1e-9)


@pytest.mark.parametrize(
    ("rate_factor", "status"), [(1.0, Status.PASS), (0.95, Status.PASS), (0.5, Status.FAIL)]
)
def test_the_same_outcomes_decide_performance_on_the_auc_drop(rate_factor: float, status: Status) -> None:
    """Fewer positives at high scores rank worse: the AUC falls below what the scores promise."""
    finding = judge_outcomes("performance", rate_factor)
    assert (finding.status, finding.statistic) == (status, "auc_drop")
    evidence = finding.evidence
    assert finding.value == pytest.approx(evidence["expected_auc"] - evidence["current_auc"])
    assert finding.value is not None and (finding.value >= 0.05) is (status is Status.FAIL)
