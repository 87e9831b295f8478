"""The train veto: `train` needs every input check to have judged; a non-finite statistic never passes."""

from __future__ import annotations

import math

import pytest

from airflow_retrain_gate.core import Action, Branch, Finding, Status
from airflow_retrain_gate.core.checks import CHECK_RANK, REGISTRY
from airflow_retrain_gate.core.checks.registry import training_guards
from airflow_retrain_gate.core.decision import Verdict, decide
from airflow_retrain_gate.core.gate import finite_or_error
from airflow_retrain_gate.demo.catalog import DEMO_AS_OF

INPUT_CHECKS = {
    "freshness",
    "volume",
    "schema",
    "null_rate",
    "scale_shift",
    "dead_signal",
    "category_coverage",
}
TRAIN = Finding("concept_drift", "predictions", Status.FAIL, Action.TRAIN, "Concept drift: retrain.")


def finding(check: str, status: Status, message: str = "", action: Action = Action.NONE) -> Finding:
    return Finding(check, "features.x", status, action, message or f"{check} {status.value}")


def choose(
    findings: list[Finding],
    error_branch: Branch = Branch.ALERT,
    guards: frozenset[str] = frozenset(INPUT_CHECKS),
) -> Verdict:
    return decide(
        findings,
        error_branch=error_branch,
        action_overrides={},
        check_rank=CHECK_RANK,
        nearest_train_at=None,
        cooldown_s=None,
        as_of=DEMO_AS_OF,
        training_guards=guards,
    )


def test_the_input_checks_are_flagged_in_the_registry() -> None:
    flagged = {name for name, spec in REGISTRY.items() if spec.guards_training}
    assert INPUT_CHECKS | {"table_rows"} <= flagged
    assert not flagged & {"concept_drift", "performance", "drift", "segment_mix", "trust", "label_maturity"}


def test_unmapped_or_disabled_checks_do_not_veto() -> None:
    enabled = ["volume", "scale_shift", "training_signal_hygiene", "concept_drift"]
    assert training_guards(enabled, frozenset()) == {"volume", "scale_shift"}
    assert training_guards(["trust", "volume"], frozenset({"overrides"})) == {"volume"}


@pytest.mark.parametrize("check", sorted(INPUT_CHECKS))
@pytest.mark.parametrize("error_branch", [Branch.ALERT, Branch.FIX_FEATURES, Branch.SKIP])
def test_an_input_check_without_enough_data_vetoes_train(check: str, error_branch: Branch) -> None:
    unjudged = finding(check, Status.INSUFFICIENT_DATA, f"{check}: only 14 rows in the current window.")
    verdict = choose([TRAIN, unjudged, finding("drift", Status.PASS)], error_branch)
    assert verdict.branch is error_branch
    assert verdict.reasons[0] == (
        f"Not trained: the input checks could not judge the inputs: {check}: only 14 rows in the current window."
    )
    assert verdict.deciding_checks[0] == check


def test_an_input_check_error_vetoes_train_even_with_on_error_skip() -> None:
    broken = finding("scale_shift", Status.ERROR, "features.x: scale_factor = inf, not a finite number")
    verdict = choose([TRAIN, broken], Branch.SKIP)
    assert verdict.branch is Branch.SKIP
    assert verdict.reasons[0].startswith(
        "Not trained: the input checks could not judge the inputs: features.x"
    )
    assert not any(reason.startswith("Nothing calls for action") for reason in verdict.reasons[:2])


def test_the_first_cause_is_an_error_then_the_most_specific_check() -> None:
    findings = [
        TRAIN,
        finding("null_rate", Status.INSUFFICIENT_DATA, "null_rate cause"),
        finding("dead_signal", Status.INSUFFICIENT_DATA, "dead_signal cause"),
    ]
    assert choose(findings).reasons[0].endswith("dead_signal cause")  # dead_signal ranks before null_rate
    findings.append(finding("volume", Status.ERROR, "volume cause"))
    assert choose(findings).reasons[0].endswith("volume cause")


def test_judged_input_checks_let_train_through() -> None:
    judged = [finding(check, Status.PASS) for check in INPUT_CHECKS]
    verdict = choose([TRAIN, *judged, finding("performance", Status.INSUFFICIENT_DATA)])
    assert verdict.branch is Branch.TRAIN
    assert verdict.reasons[0] == "Concept drift: retrain."


def test_unjudged_evidence_checks_or_other_branches_are_not_vetoed() -> None:
    unjudged = finding("volume", Status.INSUFFICIENT_DATA, "too few rows")
    assert (
        choose([unjudged]).branch is Branch.SKIP
    )  # nothing asked for train: insufficient data still does not decide
    alert = finding("trust", Status.FAIL, "overrides rose", Action.ALERT)
    verdict = choose([alert, unjudged])
    assert verdict.branch is Branch.ALERT
    assert verdict.reasons[0] == "overrides rose"
    assert choose([TRAIN, unjudged], guards=frozenset()).branch is Branch.TRAIN


def test_on_error_skip_lists_what_could_not_be_diagnosed_first() -> None:
    error = finding(
        "table_rows", Status.ERROR, "tables.predictions.filters: {model_name: 'x'} selects no rows"
    )
    verdict = choose([error, finding("volume", Status.PASS)], Branch.SKIP)
    assert verdict.branch is Branch.SKIP
    assert verdict.reasons[0].startswith(
        "Could not diagnose (table_rows), on_error is skip: tables.predictions.filters"
    )


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
@pytest.mark.parametrize("status", [Status.PASS, Status.WARN])
def test_a_non_finite_statistic_is_an_error_not_a_pass(value: float, status: Status) -> None:
    judged = Finding(
        "scale_shift", "features.x", status, Action.NONE, "keeps its scale", "scale_factor", value
    )
    error = finite_or_error(judged)
    assert error.status is Status.ERROR
    assert "scale_factor" in error.message and "features.x" in error.message
    assert "\n" not in error.message


def test_finite_statistics_and_failures_are_left_alone() -> None:
    passing = Finding("drift", "features.x", Status.PASS, Action.NONE, "stable", "psi", 0.01)
    failing = Finding("scale_shift", "features.x", Status.FAIL, Action.FIX_FEATURES, "corrupt", "x", math.inf)
    assert finite_or_error(passing) is passing
    assert finite_or_error(failing) is failing
