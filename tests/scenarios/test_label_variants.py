"""Outcome checks on numeric labels (a regression model) and on labels that have not matured yet."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from airflow_retrain_gate.core import Branch, Status, Warehouse, parse_policy, run_gate
from airflow_retrain_gate.demo.catalog import DEMO_AS_OF
from airflow_retrain_gate.demo.loading import load_tables
from airflow_retrain_gate.demo.stories import build_story, story_policy

CURRENT_START = np.datetime64("2024-05-25")


def regression_tables(*, relation_changes: bool, labels_delayed_days: int = 0) -> dict[str, pd.DataFrame]:
    """A spend-forecasting model: score predicts a positive amount; optionally the true relation changes."""
    frames = build_story("healthy", rows_per_day=1000)
    predictions, outcomes = frames["predictions"], frames["outcomes"]
    rng = np.random.default_rng(7)
    truth = rng.gamma(2.0, 50.0, len(predictions))
    predictions["score"] = truth * rng.lognormal(0.0, 0.3, len(predictions))
    current = (predictions["event_ts"] >= CURRENT_START).to_numpy()
    amount = truth.copy()
    if relation_changes:
        amount[current] = 1.6 * truth[current] + 20.0
    outcomes["outcome"] = amount
    outcomes.loc[current, "label_ts"] += pd.Timedelta(days=labels_delayed_days)
    return frames


def decide(url: str, frames: dict[str, pd.DataFrame]):  # noqa: ANN201 - a Decision
    load_tables(url, frames)
    policy = story_policy("healthy")
    policy["tables"]["predictions"].pop("band")  # type: ignore[index]
    return run_gate(parse_policy(policy), Warehouse(url), DEMO_AS_OF)


def test_a_stable_regression_model_is_left_alone(duckdb_url: str) -> None:
    decision = decide(duckdb_url, regression_tables(relation_changes=False))
    assert decision.branch is Branch.SKIP
    performance = next(f for f in decision.findings if f.check == "performance")
    assert performance.statistic == "rmse_growth" and performance.status is Status.PASS


def test_a_changed_relation_on_numeric_labels_calls_for_training(duckdb_url: str) -> None:
    decision = decide(duckdb_url, regression_tables(relation_changes=True))
    assert decision.branch is Branch.TRAIN
    assert {"concept_drift", "performance"} <= set(decision.deciding_checks)


@pytest.mark.parametrize("delay_days", [30])
def test_train_waits_for_matured_labels(duckdb_url: str, delay_days: int) -> None:
    decision = decide(duckdb_url, regression_tables(relation_changes=True, labels_delayed_days=delay_days))
    assert decision.branch is not Branch.TRAIN
    maturity = next(f for f in decision.findings if f.check == "label_maturity")
    assert maturity.status is Status.INSUFFICIENT_DATA
    assert any(
        reason.startswith("Not decided (performance, insufficient data)") for reason in decision.reasons
    )
