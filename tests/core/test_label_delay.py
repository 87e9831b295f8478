"""Churn labels arrive about four weeks after the prediction: `windows.label_delay` lets the outcome checks judge
older predictions, and without it the first reason says that no outcome was judged."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from airflow_retrain_gate.core import Branch, Warehouse, parse_policy, run_gate
from airflow_retrain_gate.core.readiness import LabelMaturityProbe
from airflow_retrain_gate.demo.catalog import DEMO_AS_OF
from airflow_retrain_gate.demo.loading import load_tables
from airflow_retrain_gate.demo.stories import story_policy
from airflow_retrain_gate.demo.world import WorldConfig, generate, tables

DAYS = 100
CHURN_DAYS_FROM = DAYS - 35
"""Churn rises for customers scored from 35 days ago on: the predictions a 28-day label delay judges."""


@pytest.fixture(scope="module")
def churn_warehouse(tmp_path_factory: pytest.TempPathFactory) -> str:
    """100 days of a churn model whose labels take 21-30 days, and whose outcome-given-score changed."""
    world = generate(WorldConfig(rows_per_day=300, days=DAYS, as_of=DEMO_AS_OF))
    world.label_delay_days = 21.0 + world.rng.exponential(1.5, len(world.day))
    world.label_logit_shift = np.where(world.day >= CHURN_DAYS_FROM, 0.9, 0.0)
    url = f"duckdb:///{tmp_path_factory.mktemp('churn') / 'warehouse.duckdb'}"
    frames = tables(world)
    load_tables(url, {name: frames[name] for name in ("features", "predictions", "outcomes")})
    return url


def churn_policy(**windows: str) -> dict[str, object]:
    """The demo policy on features, predictions and outcomes only (no events, overrides or training signals)."""
    policy = story_policy("concept_drift")
    tables = policy["tables"]
    assert isinstance(tables, dict)
    policy["tables"] = {name: tables[name] for name in ("features", "predictions", "outcomes")}
    policy["windows"] = {**policy["windows"], **windows}  # type: ignore[dict-item]
    return policy


def test_without_a_label_delay_the_first_reason_says_no_outcome_was_judged(churn_warehouse: str) -> None:
    decision = run_gate(parse_policy(churn_policy()), Warehouse(churn_warehouse), DEMO_AS_OF)

    assert decision.branch is Branch.SKIP
    first = decision.reasons[0]
    assert first.startswith(
        "Could not judge whether to retrain: concept_drift not judged: only 0 matured labels"
    ), first
    assert (
        "set windows.label_delay (e.g. 28d)" in first
        and "Not judged either: performance, residual_drift." in first
    )
    assert decision.headline() == f"skip: {first}"
    assert decision.reasons[1].startswith("Nothing else calls for action: all ")
    assert decision.reasons[-1] == (
        "Not configured (4 checks): map tables.training_signals to use training_signal_hygiene; "
        "map tables.predictions.versions (or tables.events) to use change_attribution; "
        "map tables.events to use known_events; map tables.overrides to use trust."
    )
    assert not any(
        reason.startswith("Not decided") and "Not configured" in reason for reason in decision.reasons
    )


def test_a_label_delay_judges_the_outcomes_of_predictions_made_35_to_28_days_ago(
    churn_warehouse: str,
) -> None:
    policy = parse_policy(churn_policy(label_delay="28d"))
    decision = run_gate(policy, Warehouse(churn_warehouse), DEMO_AS_OF)

    assert decision.branch is Branch.TRAIN, decision.reasons
    assert {"performance", "concept_drift"} & set(decision.deciding_checks)
    judged = decision.windows["outcomes_current"]
    assert (judged.start, judged.end) == (DEMO_AS_OF - timedelta(days=35), DEMO_AS_OF - timedelta(days=28))
    assert decision.windows["current"].end == DEMO_AS_OF  # the inputs are still judged up to as_of
    maturity = LabelMaturityProbe.for_policy(policy, DEMO_AS_OF)
    assert maturity.window == judged
    assert maturity.measure(Warehouse(churn_warehouse)).ready
