"""Reasons that say what matters first, and performance before labels arrive.

A small hand-made world on DuckDB: the model's score is sigmoid(x - 2) and the outcome follows that score, so
outcome given score holds unless a test changes it. The current window's population can narrow (a shift that
lowers the AUC the scores can reach), its labels can be pending, and its x can break upstream of the model.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest

from airflow_retrain_gate.core import Branch, Decision, Status, Warehouse, parse_policy, run_gate
from airflow_retrain_gate.core.decision import decide
from airflow_retrain_gate.core.findings import Action, Finding
from airflow_retrain_gate.demo.catalog import DEMO_AS_OF
from airflow_retrain_gate.demo.loading import load_tables

REFERENCE_DAYS = range(0, 28)
CURRENT_DAYS = range(56, 63)
"""Days since the start, 63 days before as_of: the policy's windows (-63d..-35d and -7d..0d)."""
SPREAD = 1.5
"""The reference population's standard deviation of x, the model's only signal."""

XEdit = Callable[[np.ndarray, np.random.Generator], np.ndarray]


def world(
    seed: int,
    *,
    current_spread: float = SPREAD,
    label_delay_days: tuple[float, float] = (0.0, 0.5),
    broken_x: XEdit | None = None,
    rows_per_day: tuple[int, int] = (300, 300),
) -> dict[str, pd.DataFrame]:
    """Features, predictions and outcomes of the reference and current windows (`rows_per_day` in each). The
    current window's x has `current_spread`, its labels arrive `label_delay_days` (uniform) after the
    prediction, and `broken_x` edits the current x the features table and the model see (the outcome still
    follows the true x)."""
    rng = np.random.default_rng(seed)
    day = np.concatenate(
        [
            np.repeat(np.asarray(days), rows)
            for days, rows in zip((REFERENCE_DAYS, CURRENT_DAYS), rows_per_day, strict=True)
        ]
    )
    size = len(day)
    current = day >= CURRENT_DAYS.start
    true_x = 2.0 + rng.normal(0.0, 1.0, size) * np.where(current, current_spread, SPREAD)
    seen_x = true_x.copy()
    if broken_x is not None:
        seen_x[current] = broken_x(true_x[current], rng)
    start = pd.Timestamp(DEMO_AS_OF - timedelta(days=CURRENT_DAYS.stop)).tz_localize(None)
    event_ts = start + pd.to_timedelta(day + rng.uniform(0, 1, size), unit="D")
    outcome = (rng.uniform(0, 1, size) < 1 / (1 + np.exp(-(true_x - 2.0)))).astype(int)
    delay = np.where(current, rng.uniform(*label_delay_days, size), rng.uniform(0.0, 0.5, size))
    entity = np.arange(size)
    return {
        "features": pd.DataFrame(
            {"event_ts": event_ts, "entity_id": entity, "x": seen_x, "noise": rng.normal(0, 1, size)}
        ),
        "predictions": pd.DataFrame(
            {"event_ts": event_ts, "entity_id": entity, "score": 1 / (1 + np.exp(-(seen_x - 2.0)))}
        ),
        "outcomes": pd.DataFrame(
            {"entity_id": entity, "label_ts": event_ts + pd.to_timedelta(delay, unit="D"), "outcome": outcome}
        ),
    }


POLICY: dict[str, Any] = {
    "name": "narrowing-population",
    "windows": {"reference": {"start": "-63d", "end": "-35d"}, "current": {"start": "-7d", "end": "0d"}},
    "tables": {
        "features": {
            "table": "features",
            "timestamp": "event_ts",
            "entity": "entity_id",
            "numeric": ["x", "noise"],
        },
        "predictions": {
            "table": "predictions",
            "timestamp": "event_ts",
            "entity": "entity_id",
            "score": "score",
        },
        "outcomes": {
            "table": "outcomes",
            "entity": "entity_id",
            "label_timestamp": "label_ts",
            "label": "outcome",
        },
    },
}


def gate(url: str, frames: dict[str, pd.DataFrame], policy: dict[str, Any] = POLICY) -> Decision:
    """Load the frames and decide at the demo's as_of."""
    load_tables(url, frames)
    return run_gate(parse_policy(policy), Warehouse(url), DEMO_AS_OF)


def performance(decision: Decision) -> Finding:
    """The decision's one performance finding."""
    [finding] = [f for f in decision.findings if f.check == "performance"]
    return finding


@pytest.mark.parametrize("seed", [0, 1])
def test_a_narrower_population_lowers_the_auc_as_its_scores_predict_and_the_headline_says_so(
    duckdb_url: str, seed: int
) -> None:
    decision = gate(duckdb_url, world(seed, current_spread=1.25, rows_per_day=(800, 1400)))

    assert decision.branch is Branch.SKIP, decision.reasons
    finding = performance(decision)
    fell = finding.evidence["reference_auc"] - finding.evidence["current_auc"]
    assert 0.01 < fell < 0.05, finding.evidence
    assert decision.reasons[0] == (
        f"AUC fell {finding.evidence['reference_auc']:.3g} -> {finding.evidence['current_auc']:.3g}, "
        "as the shift in x predicts; the model's calibration holds: no retrain."
    )
    assert decision.reasons[1].startswith("Nothing else calls for action")


def test_a_material_loss_the_shift_explains_is_still_no_reason_to_retrain(duckdb_url: str) -> None:
    decision = gate(duckdb_url, world(2, current_spread=0.8))

    assert decision.branch is Branch.SKIP, decision.reasons
    assert decision.reasons[0].startswith("AUC fell ")
    assert decision.reasons[0].endswith(
        " (a material loss), as the shift in x predicts; the model's calibration holds: no retrain."
    )


def test_a_healthy_window_says_nothing_fell(duckdb_url: str) -> None:
    decision = gate(duckdb_url, world(3))

    assert decision.branch is Branch.SKIP, decision.reasons
    assert decision.reasons[0].startswith("Nothing calls for action: all "), decision.reasons
    assert performance(decision).message.endswith("no material loss.")


def test_pending_labels_are_said_first_with_an_estimate_and_the_day_they_mature(duckdb_url: str) -> None:
    frames = world(4, label_delay_days=(2.0, 6.0))
    decision = gate(duckdb_url, frames)

    assert decision.branch is Branch.SKIP, decision.reasons
    first = decision.reasons[0]
    assert first.startswith("Could not judge whether to retrain: "), first
    assert "of current predictions have a known outcome by as_of (need 50%)" in first
    finding = performance(decision)
    assert finding.status is Status.INSUFFICIENT_DATA
    assert "Estimated before labels: at the reference's outcome given score, the current scores promise" in (
        finding.message
    )
    assert abs(finding.evidence["estimated_auc_drop"]) < 0.03
    assert abs(finding.evidence["estimated_outcome_rate"] - finding.evidence["reference_outcome_rate"]) < 0.03
    # When half the current window's labels are in, from the rows themselves: within a day of the estimate.
    predictions, outcomes = frames["predictions"], frames["outcomes"]
    in_window = predictions["event_ts"] >= pd.Timestamp(DEMO_AS_OF.replace(tzinfo=None)) - pd.Timedelta(
        days=7
    )
    label_times = outcomes.loc[in_window.to_numpy(), "label_ts"].sort_values()
    half_known = label_times.iloc[len(label_times) // 2]
    estimated = pd.Timestamp(finding.evidence["expected_mature_at"]).tz_localize(None)
    assert abs(estimated - half_known) < pd.Timedelta(days=1), (estimated, half_known)
    assert f"enough should be known by {estimated:%Y-%m-%d}" in first


def test_a_material_drop_the_scores_predict_before_labels_alerts(duckdb_url: str) -> None:
    decision = gate(duckdb_url, world(5, current_spread=0.8, label_delay_days=(3.0, 9.0)))

    assert decision.branch is Branch.ALERT, decision.reasons
    assert decision.deciding_checks == ("performance",)
    finding = performance(decision)
    assert finding.statistic == "estimated_auc_drop" and finding.value > 0.05
    assert decision.reasons[0].startswith("Performance is expected to fall before labels can show it: ")
    assert "An estimate never retrains" in decision.reasons[0]


def test_without_outcomes_the_first_reason_says_retraining_was_not_judged(duckdb_url: str) -> None:
    tables = {name: POLICY["tables"][name] for name in ("features", "predictions")}
    decision = gate(duckdb_url, world(6), {**POLICY, "tables": tables})

    assert decision.branch is Branch.SKIP, decision.reasons
    first = decision.reasons[0]
    assert first.startswith("Could not judge whether to retrain: map tables.outcomes to run "), first
    assert "performance" in first and "concept_drift" in first
    assert not any(reason.startswith("Nothing calls for action") for reason in decision.reasons)


def frozen_at_zero(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The source stopped updating and writes its default."""
    return np.zeros_like(x)


def in_hundreds(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The source changed its unit."""
    return x / 100


@pytest.mark.parametrize("broken_x", [frozen_at_zero, in_hundreds])
def test_scores_that_collapse_on_a_broken_input_leave_performance_unjudged(
    duckdb_url: str, broken_x: XEdit
) -> None:
    decision = gate(duckdb_url, world(7, broken_x=broken_x))

    assert decision.branch is Branch.FIX_FEATURES, decision.reasons
    finding = performance(decision)
    assert finding.status is Status.INSUFFICIENT_DATA, finding.message
    assert "the current scores promise an AUC of only 0.5" in finding.message
    assert "look at the features the model reads" in finding.message


def test_one_train_check_that_could_not_judge_is_named_first_even_when_the_other_passed() -> None:
    findings = [
        Finding(
            "concept_drift",
            "predictions",
            Status.PASS,
            Action.NONE,
            "The outcome rate per score bin is stable.",
        ),
        Finding(
            "performance", "predictions", Status.INSUFFICIENT_DATA, Action.NONE, "AUC needs both outcomes."
        ),
        Finding("drift", "features.x", Status.PASS, Action.NONE, "Column features.x is stable."),
    ]

    verdict = decide(
        findings,
        error_branch=Branch.ALERT,
        action_overrides={},
        check_rank={},
        nearest_train_at=None,
        cooldown_s=None,
        as_of=DEMO_AS_OF,
        train_checks=("concept_drift", "performance"),
    )

    assert verdict.branch is Branch.SKIP
    assert (
        verdict.reasons[0]
        == "Could not judge performance, which could ask for train: AUC needs both outcomes."
    )
    assert verdict.reasons[1] == "Nothing else calls for action: all 2 judged findings passed."
