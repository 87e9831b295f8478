"""label_domain, label_timing, score_inversion and the metric-range guard of the outcome checks, on hand-built
outcome profiles: each breakage at several magnitudes, and healthy or legitimately moving labels that must pass."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from scipy import stats as scipy_stats

from airflow_retrain_gate.core import Status, parse_policy
from airflow_retrain_gate.core.checks import REGISTRY
from airflow_retrain_gate.core.checks.context import CheckInputs
from airflow_retrain_gate.core.checks.metric_range import out_of_range
from airflow_retrain_gate.core.findings import Action, Finding
from airflow_retrain_gate.core.profiling.profile_set import ProfileSet
from airflow_retrain_gate.core.profiling.profiles import (
    OUTCOME_METRICS,
    OutcomeProfile,
    from_jsonable,
    to_jsonable,
)
from airflow_retrain_gate.core.timeframes import TimeWindow
from airflow_retrain_gate.demo.stories import story_policy

AS_OF = datetime(2024, 6, 1, tzinfo=UTC)
REFERENCE = TimeWindow("reference", datetime(2024, 3, 30, tzinfo=UTC), datetime(2024, 4, 27, tzinfo=UTC))
CURRENT = TimeWindow("current", datetime(2024, 5, 25, tzinfo=UTC), datetime(2024, 6, 1, tzinfo=UTC))
EDGES = tuple(float(edge) for edge in np.linspace(-4, 4, 21))


def binormal(labels: float, separation: float, base_rate: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """Expected positives and negatives per score bin when positives' scores sit `separation` stds above
    the negatives' (AUC = Phi(separation / sqrt 2)); underflow and overflow slots included."""
    cuts = np.array([-np.inf, *EDGES, np.inf])
    negatives = np.diff(scipy_stats.norm.cdf(cuts)) * labels * (1 - base_rate)
    positives = np.diff(scipy_stats.norm.cdf(cuts, loc=separation)) * labels * base_rate
    return positives, negatives


def profile(
    window: TimeWindow,
    positives: np.ndarray,
    negatives: np.ndarray,
    *,
    label_sum: np.ndarray | None = None,
    label_sq: np.ndarray | None = None,
    stray: float = 0.0,
    early: float = 0.0,
    kind: str = "binary",
    classes: tuple[float, ...] = (0.0, 1.0),
    whole: bool = True,
) -> OutcomeProfile:
    """An outcome profile of two days with the given counts per score bin (split evenly over the days)."""
    matured = positives + negatives
    per_bin: dict[str, np.ndarray] = {name: np.zeros_like(matured) for name in OUTCOME_METRICS}
    per_bin.update(
        n=matured,
        matured=matured,
        label_sum=positives if label_sum is None else label_sum,
        label_sq=positives if label_sq is None else label_sq,
    )
    per_bin["label_stray"][len(matured) // 2] = stray
    per_bin["label_early"][len(matured) // 2] = early
    return OutcomeProfile(
        window=window,
        predictions=round(matured.sum()),
        matured=round(matured.sum()),
        label_kind=kind,
        score_edges=EDGES,
        days=("day 1", "day 2"),
        daily_bins={name: (tuple(values / 2), tuple(values / 2)) for name, values in per_bin.items()},
        label_classes=classes,
        whole_labels=whole,
    )


def judge(
    check: str, reference: OutcomeProfile, current: OutcomeProfile, **checks: dict[str, Any]
) -> Finding:
    """The one finding `check` makes on the two profiles under the demo policy (with `checks` settings)."""
    policy = parse_policy({**story_policy("healthy"), "checks": checks})
    profiles = ProfileSet(
        outcomes_reference=reference, outcomes_current=current, outcomes_have_predictions=True
    )
    inputs = CheckInputs(profiles, policy, AS_OF, REFERENCE, CURRENT)
    [finding] = REGISTRY[check].evaluate(inputs, policy.check_settings(check))
    return finding


def healthy_reference() -> OutcomeProfile:
    return profile(REFERENCE, *binormal(5000, 0.8))


@pytest.mark.parametrize("strays", [1, 50, 600, 2000])
def test_labels_outside_the_reference_domain_fail_at_any_share(strays: int) -> None:
    current = profile(CURRENT, *binormal(2000, 0.8), stray=strays)
    finding = judge("label_domain", healthy_reference(), current)
    assert finding.status is Status.FAIL and finding.action is Action.FIX_FEATURES
    assert f"{strays} of 2000 matured labels" in finding.message
    assert "outside the reference's domain (values 0/1)" in finding.message


def test_a_tolerated_share_of_stray_labels_passes() -> None:
    current = profile(CURRENT, *binormal(2000, 0.8), stray=20)
    assert judge("label_domain", healthy_reference(), current).status is Status.FAIL
    tolerant = {"label_domain": {"max_stray_share": 0.02}}
    assert judge("label_domain", healthy_reference(), current, **tolerant).status is Status.PASS


def amounts(window: TimeWindow, mean: float, std: float, labels: float = 4000) -> OutcomeProfile:
    """A numeric label with the given mean and spread (fractional values, no class set)."""
    positives, negatives = binormal(labels, 0.8)
    matured = positives + negatives
    return profile(
        window,
        positives,
        negatives,
        label_sum=matured * mean,
        label_sq=matured * (mean * mean + std * std),
        kind="numeric",
        classes=(),
        whole=False,
    )


@pytest.mark.parametrize("factor", [0.001, 0.01, 0.05, 20, 100, 1000])
def test_numeric_labels_on_a_new_unit_fail(factor: float) -> None:
    finding = judge("label_domain", amounts(REFERENCE, 60, 15), amounts(CURRENT, 60 * factor, 15 * factor))
    assert finding.status is Status.FAIL and finding.statistic == "label_scale_factor"
    assert "arrive on a new scale" in finding.message


@pytest.mark.parametrize(
    ("mean", "std"), [(60, 15), (90, 15), (60, 40), (150, 30), (20, 5), (60 * 9, 15 * 9)]
)
def test_numeric_labels_that_move_without_a_new_unit_pass(mean: float, std: float) -> None:
    """A regression target may legitimately move (its mean, its spread, even x9): that is for the outcome checks."""
    finding = judge("label_domain", amounts(REFERENCE, 60, 15), amounts(CURRENT, mean, std))
    assert finding.status is Status.PASS


@pytest.mark.parametrize(("early", "fails"), [(0, False), (10, False), (20, False), (41, True), (400, True)])
def test_labels_known_before_their_prediction_fail_past_the_tolerance(early: int, fails: bool) -> None:
    current = profile(CURRENT, *binormal(2000, 0.8), early=early)
    finding = judge("label_timing", healthy_reference(), current)
    assert finding.status is (Status.FAIL if fails else Status.PASS)
    if fails:
        assert f"{early} of 2000 matured labels" in finding.message
        assert "current window (2024-05-25 to 2024-06-01)" in finding.message


def test_early_labels_in_the_reference_window_fail_too() -> None:
    reference = profile(REFERENCE, *binormal(5000, 0.8), early=500)
    finding = judge("label_timing", reference, profile(CURRENT, *binormal(2000, 0.8)))
    assert finding.status is Status.FAIL and "reference window (2024-03-30 to 2024-04-27)" in finding.message


@pytest.mark.parametrize("separation", [-1.2, -0.8, -0.5, -0.3])
@pytest.mark.parametrize("labels", [2000, 20000])
def test_scores_ranking_outcomes_backwards_fail(separation: float, labels: int) -> None:
    finding = judge("score_inversion", healthy_reference(), profile(CURRENT, *binormal(labels, separation)))
    assert finding.status is Status.FAIL and finding.action is Action.FIX_FEATURES
    assert "rank outcomes backwards in the current window" in finding.message


@pytest.mark.parametrize(
    ("separation", "labels"),
    [
        (0.8, 2000),  # unchanged
        (0.1, 2000),  # the score lost its signal: concept drift, not an inversion
        (-0.05, 10**6),  # a hair below chance on a huge sample: too small an effect
        (-0.4, 250),  # backwards, but on too few labels to be significant
    ],
)
def test_weak_or_insignificant_inversions_pass(separation: float, labels: int) -> None:
    finding = judge("score_inversion", healthy_reference(), profile(CURRENT, *binormal(labels, separation)))
    assert finding.status is Status.PASS


def test_an_inversion_needs_a_reference_well_above_chance() -> None:
    reference = profile(REFERENCE, *binormal(5000, 0.05))
    finding = judge("score_inversion", reference, profile(CURRENT, *binormal(2000, -0.8)))
    assert finding.status is Status.PASS


def recoded(window: TimeWindow, coding: str) -> OutcomeProfile:
    """Current 0/1 labels recoded: 1 -> 5, 0 -> -1, or every label 0.5 (the sums a warehouse would return)."""
    positives, negatives = binormal(2000, 0.8)
    matured = positives + negatives
    label_sum, label_sq = {
        "0/5": (positives * 5, positives * 25),
        "-1/1": (positives - negatives, matured),
        "soft 0.5": (matured * 0.5, matured * 0.25),
    }[coding]
    return profile(window, positives, negatives, label_sum=label_sum, label_sq=label_sq, stray=600)


@pytest.mark.parametrize("coding", ["0/5", "-1/1", "soft 0.5"])
@pytest.mark.parametrize("check", ["performance", "concept_drift", "score_inversion"])
def test_outcome_checks_do_not_judge_labels_outside_the_domain(check: str, coding: str) -> None:
    finding = judge(check, healthy_reference(), recoded(CURRENT, coding))
    assert finding.status is Status.INSUFFICIENT_DATA
    assert "left the reference's domain (see label_domain)" in finding.message


@pytest.mark.parametrize("coding", ["0/5", "-1/1", "soft 0.5"])
@pytest.mark.parametrize("check", ["performance", "concept_drift", "score_inversion"])
def test_a_metric_outside_its_range_is_an_error_never_evidence(check: str, coding: str) -> None:
    finding = judge(check, healthy_reference(), recoded(CURRENT, coding), label_domain={"enabled": False})
    assert finding.status is Status.ERROR, finding
    assert "impossible for valid data" in finding.message and "outcomes.outcome" in finding.message


@pytest.mark.parametrize("value", [-1.36, 1.2, float("nan"), float("inf")])
def test_an_auc_outside_its_range_is_named(value: float) -> None:
    assert out_of_range({"the AUC": (0.7, 0.0, 1.0)}) is None
    assert out_of_range({"the AUC": (value, 0.0, 1.0)}) == f"the AUC came out {value:.4g}, outside [0, 1]"


def test_outcome_profiles_keep_their_label_domain_through_the_cache() -> None:
    current = recoded(CURRENT, "0/5")
    stray = OutcomeProfile(
        **{**current.__dict__, "stray_labels": ((5.0, 600),), "label_classes": (-1.0, 1.0)}
    )
    assert from_jsonable(to_jsonable(stray)) == stray
