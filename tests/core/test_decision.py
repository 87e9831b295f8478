"""How findings become a branch: precedence, overrides, on_error, cooldown, and the renderings."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from airflow_retrain_gate.core import (
    Action,
    Branch,
    DecisionLog,
    Finding,
    RunKey,
    StateStore,
    Status,
    Warehouse,
    parse_policy,
    run_gate,
)
from airflow_retrain_gate.core.checks import CHECK_RANK
from airflow_retrain_gate.core.decision import Decision, Verdict, decide
from airflow_retrain_gate.demo.catalog import DEMO_AS_OF
from airflow_retrain_gate.demo.loading import load_tables
from airflow_retrain_gate.demo.stories import build_story, story_policy


def finding(check: str, status: Status, action: Action = Action.NONE, message: str = "") -> Finding:
    return Finding(check, "t.c", status, action, message or f"{check} {status.value}")


def choose(
    findings: list[Finding], error_branch: Branch = Branch.ALERT, overrides: dict[str, Action] | None = None
) -> Verdict:
    return decide(
        findings,
        error_branch=error_branch,
        action_overrides=overrides or {},
        check_rank=CHECK_RANK,
        nearest_train_at=None,
        cooldown_s=None,
        as_of=DEMO_AS_OF,
    )


def test_fix_features_beats_alert_beats_train_beats_skip() -> None:
    train = finding("performance", Status.FAIL, Action.TRAIN)
    alert = finding("trust", Status.FAIL, Action.ALERT)
    fix = finding("freshness", Status.FAIL, Action.FIX_FEATURES)
    assert choose([train]).branch is Branch.TRAIN
    assert choose([train, alert]).branch is Branch.ALERT
    verdict = choose([train, alert, fix])
    assert (verdict.branch, verdict.deciding_checks) == (Branch.FIX_FEATURES, ("freshness",))
    assert any(reason.startswith("Also seen (alert, lower precedence)") for reason in verdict.reasons)


def test_a_check_that_cannot_run_takes_on_error_never_train() -> None:
    error = finding("performance", Status.ERROR, message="query failed")
    verdict = choose([error, finding("concept_drift", Status.FAIL, Action.TRAIN)])
    assert verdict.branch is Branch.ALERT
    assert verdict.reasons[0] == "could not diagnose (performance): query failed"
    assert choose([error], error_branch=Branch.FIX_FEATURES).branch is Branch.FIX_FEATURES


def test_one_error_that_stops_many_checks_is_one_reason_with_their_count() -> None:
    unreachable = "tables.features.table: connection refused"
    stopped = ["freshness", "schema", "dead_signal", "scale_shift", "volume"]
    errors = [finding(check, Status.ERROR, message=unreachable) for check in stopped]
    verdict = choose([*errors, finding("trust", Status.ERROR, message="tables.overrides: refused")])

    assert verdict.branch is Branch.ALERT
    assert verdict.reasons == (
        f"could not diagnose (5 checks: freshness, schema, dead_signal, ...): {unreachable}",
        "could not diagnose (trust): tables.overrides: refused",
    )


def test_insufficient_data_does_not_decide_and_says_so() -> None:
    verdict = choose(
        [finding("label_maturity", Status.INSUFFICIENT_DATA, message="labels are not mature yet")]
    )
    assert verdict.branch is Branch.SKIP
    assert "Not decided (label_maturity, insufficient data): labels are not mature yet" in verdict.reasons


def test_policy_overrides_change_what_a_failing_check_asks_for() -> None:
    mix = finding("segment_mix", Status.FAIL, Action.ALERT)
    assert choose([mix], overrides={"segment_mix": Action.FIX_FEATURES}).branch is Branch.FIX_FEATURES
    drift = finding("drift", Status.FAIL)
    assert choose([drift]).branch is Branch.SKIP
    assert choose([drift], overrides={"drift": Action.TRAIN}).branch is Branch.TRAIN


def test_the_decision_round_trips_through_json_and_renders_markdown(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    load_tables(url, build_story("trust_decay", rows_per_day=600))
    decision = run_gate(parse_policy(story_policy("trust_decay")), Warehouse(url), DEMO_AS_OF)
    data = json.loads(decision.to_json())
    assert (data["branch"], data["deciding_checks"][0]) == ("alert", "trust")
    assert Decision.from_dict(data).to_dict() == data
    markdown = decision.to_markdown()
    assert markdown.startswith("## Retrain gate: **alert** (demo-trust_decay)")
    assert "| trust |" in markdown and "Trust decay" in markdown


def test_cooldown_turns_a_second_train_within_the_cooldown_into_alert(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    load_tables(url, build_story("concept_drift", rows_per_day=600))
    policy = parse_policy(story_policy("concept_drift") | {"cooldown": "7d"})
    state = StateStore(f"sqlite:///{tmp_path / 'state.sqlite'}")
    log = DecisionLog(state)
    earlier = run_gate(policy, Warehouse(url), DEMO_AS_OF - timedelta(days=3), state=state)
    log.record(RunKey("fraud", "run-1", "gate"), earlier)
    assert earlier.branch is Branch.TRAIN
    again = run_gate(
        policy, Warehouse(url), DEMO_AS_OF, state=state, run_key=RunKey("fraud", "run-2", "gate")
    )
    assert again.branch is Branch.ALERT
    assert again.reasons[0].startswith("Cooldown: the last train decision was 3d ago (cooldown 7d)")
    assert not any(reason.startswith("Also seen") for reason in again.reasons), "the train reasons once"
    log.record_review(RunKey("fraud", "run-1", "gate"), "skip", "oncall", "false alarm")
    after_review = run_gate(
        policy, Warehouse(url), DEMO_AS_OF, state=state, run_key=RunKey("fraud", "run-3", "gate")
    )
    assert after_review.branch is Branch.TRAIN
