"""The cooldown belongs to the model (the policy name), whichever DAG or task gates it."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from airflow_retrain_gate.core import (
    Branch,
    Decision,
    DecisionLog,
    RunKey,
    StateStore,
    Warehouse,
    parse_policy,
    run_gate,
)
from airflow_retrain_gate.core.cooldown import settle_train
from airflow_retrain_gate.demo.catalog import DEMO_AS_OF
from airflow_retrain_gate.demo.loading import load_tables
from airflow_retrain_gate.demo.stories import build_story, story_policy

DAILY = RunKey("churn_daily", "scheduled__2024-06-01", "gate")
WEEKLY = RunKey("churn_weekly_report", "scheduled__2024-06-01", "retrain_gate")


TRAINED_AT = DEMO_AS_OF - timedelta(days=2)
CHURN = story_policy("concept_drift") | {"name": "churn", "cooldown": "7d"}


@pytest.fixture(scope="module")
def warehouse_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A warehouse whose story asks for `train` (the outcome given the score changed, inputs healthy)."""
    url = f"duckdb:///{tmp_path_factory.mktemp('cooldown') / 'w.duckdb'}"
    load_tables(url, build_story("concept_drift", rows_per_day=600))
    return url


@pytest.fixture(scope="module")
def trained(warehouse_url: str) -> Decision:
    """The daily DAG's gate decided `train` two days before DEMO_AS_OF."""
    decision = run_gate(parse_policy(CHURN), Warehouse(warehouse_url), TRAINED_AT)
    assert decision.branch is Branch.TRAIN
    return decision


def test_two_dags_gating_one_model_share_its_cooldown(
    warehouse_url: str, trained: Decision, tmp_path: Path
) -> None:
    state = StateStore(f"duckdb:///{tmp_path / 'state.duckdb'}")
    DecisionLog(state).record(DAILY, trained)

    other_dag = run_gate(
        parse_policy(CHURN), Warehouse(warehouse_url), DEMO_AS_OF, state=state, run_key=WEEKLY
    )
    assert other_dag.branch is Branch.ALERT
    assert other_dag.reasons[0].startswith("Cooldown: the last train decision was 2d ago (cooldown 7d)")

    other_model = parse_policy(CHURN | {"name": "churn-enterprise"})
    decision = run_gate(other_model, Warehouse(warehouse_url), DEMO_AS_OF, state=state, run_key=WEEKLY)
    assert decision.branch is Branch.TRAIN


def test_the_cooldown_counts_trains_carried_out_by_any_other_task(trained: Decision, tmp_path: Path) -> None:
    log = DecisionLog(StateStore(f"sqlite:///{tmp_path / 'state.sqlite'}"))
    log.record(DAILY, trained)

    assert log.last_train_before("churn", DEMO_AS_OF) == TRAINED_AT
    assert log.last_train_before("churn", TRAINED_AT, excluding=WEEKLY) == TRAINED_AT, (
        "same interval, other DAG"
    )
    assert log.last_train_before("churn", TRAINED_AT, excluding=DAILY) is None, (
        "a retry is not its own cooldown"
    )
    assert log.last_train_before("churn", TRAINED_AT - timedelta(seconds=1)) is None
    assert log.last_train_before("churn-enterprise", DEMO_AS_OF) is None

    log.record_review(DAILY, "skip", "oncall", "the drift is a campaign; do not retrain")
    assert log.last_train_before("churn", DEMO_AS_OF) is None, (
        "a train overridden to skip was not carried out"
    )


def test_of_two_gates_that_trained_at_the_same_moment_the_one_logged_first_keeps_it(
    trained: Decision, tmp_path: Path
) -> None:
    # Both gates read an empty log before either wrote: both decided train for the same interval.
    log = DecisionLog(StateStore(f"sqlite:///{tmp_path / 'state.sqlite'}"))
    log.record(WEEKLY, trained)
    log.record(DAILY, trained)

    daily = settle_train(log, DAILY, trained, timedelta(days=7))
    weekly = settle_train(log, WEEKLY, trained, timedelta(days=7), try_number=2)

    assert weekly is trained
    assert daily.branch is Branch.ALERT
    assert daily.reasons[0].startswith(
        "Cooldown: churn_weekly_report.retrain_gate (run scheduled__2024-06-01) decided train for churn at the same time"
    )
    logged = log.get(DAILY)
    assert logged is not None and logged.entry.branch == "alert"
    assert settle_train(log, DAILY, trained, None) is trained, "no cooldown: every gate may train"


def test_a_backfill_of_an_earlier_interval_meets_the_train_of_a_later_one(
    warehouse_url: str, trained: Decision, tmp_path: Path
) -> None:
    state = StateStore(f"sqlite:///{tmp_path / 'state.sqlite'}")
    DecisionLog(state).record(DAILY, replace(trained, as_of=DEMO_AS_OF))  # the model trained on June 1st

    backfill = run_gate(
        parse_policy(CHURN), Warehouse(warehouse_url), TRAINED_AT, state=state, run_key=WEEKLY
    )

    assert backfill.branch is Branch.ALERT
    assert backfill.reasons[0].startswith(
        "Cooldown: a train decision stands 2d later (as of 2024-06-01T00:00:00+00:00) (cooldown 7d)"
    )
