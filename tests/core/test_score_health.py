"""score_health on hand-built score profiles: healthy probability scores pass at many seeds; rescaled, out-of-range,
frozen and missing scores fail, each at several magnitudes, under the check's own name and the score's subject."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from numeric_columns import column_profile

from airflow_retrain_gate.core import Status, parse_policy
from airflow_retrain_gate.core.checks import REGISTRY
from airflow_retrain_gate.core.checks.context import CheckInputs
from airflow_retrain_gate.core.checks.score_health import range_finding
from airflow_retrain_gate.core.findings import Action, Finding
from airflow_retrain_gate.core.profiling.profile_set import ProfileSet
from airflow_retrain_gate.core.timeframes import TimeWindow
from airflow_retrain_gate.demo.stories import story_policy

AS_OF = datetime(2024, 6, 1, tzinfo=UTC)
REFERENCE = TimeWindow("reference", datetime(2024, 3, 30, tzinfo=UTC), datetime(2024, 4, 27, tzinfo=UTC))
CURRENT = TimeWindow("current", datetime(2024, 5, 25, tzinfo=UTC), datetime(2024, 6, 1, tzinfo=UTC))
SUBJECT = "predictions[model_name = 'fraud-scorer'].score"
"""The demo's predictions table is shared by models: a finding names the filtered slice it judged."""
PER_DAY = 400


def probabilities(window: TimeWindow, seed: int) -> np.ndarray:
    """Healthy fraud scores: Beta(2, 8) probabilities, PER_DAY a day."""
    return np.random.default_rng(seed).beta(2.0, 8.0, (len(window.days()), PER_DAY))


def judge(reference: np.ndarray, current: np.ndarray) -> list[Finding]:
    """score_health's findings on two windows of scores under the demo policy."""
    policy = parse_policy(story_policy("healthy"))
    profiles = ProfileSet(
        scores_reference=column_profile(REFERENCE, reference), scores_current=column_profile(CURRENT, current)
    )
    inputs = CheckInputs(profiles, policy, AS_OF, REFERENCE, CURRENT)
    return REGISTRY["score_health"].evaluate(inputs, policy.check_settings("score_health"))


def failures(findings: list[Finding]) -> list[str]:
    return [finding.message for finding in findings if finding.status is Status.FAIL]


@pytest.mark.parametrize("seed", range(20))
def test_healthy_probability_scores_pass(seed: int) -> None:
    findings = judge(probabilities(REFERENCE, seed), probabilities(CURRENT, seed + 1000))
    assert [(finding.check, finding.subject) for finding in findings] == [("score_health", SUBJECT)] * 4
    assert failures(findings) == []


@pytest.mark.parametrize("factor", [100.0, 1000.0, 0.01])
def test_rescaled_scores_fail_as_a_scale_change(factor: float) -> None:
    findings = judge(probabilities(REFERENCE, 1), probabilities(CURRENT, 2) * factor)
    [scale] = [finding for finding in findings if finding.statistic == "scale_factor"]
    assert scale.status is Status.FAIL and scale.action is Action.FIX_FEATURES
    assert scale.check == "score_health" and f"Column {SUBJECT} changed scale" in scale.message
    assert scale.value == pytest.approx(factor, rel=0.1)


@pytest.mark.parametrize("outside", [1, 40, PER_DAY])
@pytest.mark.parametrize("value", [1.2, -0.1, 37.0])
def test_scores_leaving_the_probability_range_fail_at_any_share(outside: int, value: float) -> None:
    current = probabilities(CURRENT, 2)
    current[3, :outside] = value
    [finding] = [f for f in judge(probabilities(REFERENCE, 1), current) if f.statistic == "days_out_of_range"]
    assert finding.status is Status.FAIL and finding.action is Action.FIX_FEATURES
    assert f"Column {SUBJECT} left the probability range on 1 day(s) since 2024-05-28" in finding.message


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("factor", [100.0, 0.01])
@pytest.mark.parametrize("broken_reference_days", [1, 2, 7, 14])
def test_rescaled_scores_keep_failing_once_the_breakage_enters_the_reference(
    broken_reference_days: int, factor: float, seed: int
) -> None:
    """Nobody fixed the scoring job: weeks later its rescaled scores fill the current window and the reference's
    last days. Judged against the reference days before the break, they still fail; against the whole reference,
    which holds both scales, they would pass and the gate would train on them."""
    reference = probabilities(REFERENCE, seed)
    reference[-broken_reference_days:] *= factor
    findings = judge(reference, probabilities(CURRENT, seed + 1000) * factor)
    broken_since = REFERENCE.days()[-broken_reference_days].isoformat()
    [scale] = [finding for finding in findings if finding.statistic == "scale_factor"]
    assert scale.status is Status.FAIL and scale.action is Action.FIX_FEATURES
    assert f"since {broken_since} values are about" in scale.message
    assert "the reference days before it" in scale.message
    assert scale.value == pytest.approx(factor, rel=0.1)
    [in_range] = [finding for finding in findings if finding.statistic == "days_out_of_range"]
    assert (in_range.status is Status.FAIL) == (factor > 1)
    if factor > 1:
        assert f"since {broken_since}" in in_range.message
        assert f"the reference stayed within [0, 1] until {broken_since}" in in_range.message


def test_a_score_rescaled_once_in_the_reference_and_since_repaired_passes() -> None:
    reference = probabilities(REFERENCE, 5)
    reference[10:12] *= 100.0
    assert failures(judge(reference, probabilities(CURRENT, 6))) == []


def test_a_score_repaired_after_a_breakage_that_entered_the_reference_passes() -> None:
    reference = probabilities(REFERENCE, 7)
    reference[-3:] *= 100.0
    findings = judge(reference, probabilities(CURRENT, 8))
    assert failures(findings) == []


def test_a_score_that_was_never_a_probability_keeps_no_range() -> None:
    rng = np.random.default_rng(3)
    reference = rng.normal(0.0, 1.0, (28, PER_DAY))
    current = rng.normal(0.0, 1.0, (7, PER_DAY))
    finding = range_finding(
        SUBJECT,
        column_profile(REFERENCE, reference).numeric["score"],
        column_profile(CURRENT, current).numeric["score"],
        tuple(day.isoformat() for day in CURRENT.days()),
        tuple(day.isoformat() for day in REFERENCE.days()),
    )
    assert finding.status is Status.PASS
    assert "not confined to [0, 1]" in finding.message


@pytest.mark.parametrize("days", [2, 4, 7])
def test_frozen_scores_fail_as_a_dead_signal(days: int) -> None:
    current = probabilities(CURRENT, 2)
    current[-days:] = 0.137
    [message] = failures(judge(probabilities(REFERENCE, 1), current))
    frozen_since = CURRENT.days()[-days].isoformat()
    assert f"Column {SUBJECT} stopped updating on {frozen_since}" in message or (
        days == 7 and f"Column {SUBJECT} is frozen" in message
    )


@pytest.mark.parametrize("share", [0.1, 0.5])
def test_missing_scores_fail_as_a_null_rise(share: float) -> None:
    current = probabilities(CURRENT, 2)
    current[np.random.default_rng(4).uniform(size=current.shape) < share] = np.nan
    [finding] = [f for f in judge(probabilities(REFERENCE, 1), current) if f.status is Status.FAIL]
    assert f"Column {SUBJECT}: NULL share rose from 0.0% to" in finding.message
    assert finding.value == pytest.approx(share, abs=0.02)


def test_a_few_missing_scores_pass() -> None:
    current = probabilities(CURRENT, 2)
    current[np.random.default_rng(5).uniform(size=current.shape) < 0.01] = np.nan
    assert failures(judge(probabilities(REFERENCE, 1), current)) == []
