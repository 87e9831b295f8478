"""How a policy names its suite and maps failed expectations to actions, and what happens when either is wrong."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from airflow_retrain_gate.core import Action, Branch, PolicyError, Status, load_policy, parse_policy
from tests.expectations.conftest import SUITE_PATH, FeatureWarehouse, contract_suite, story_features

ADVISORY_MEAN = {
    "type": "expect_column_mean_to_be_between",
    "kwargs": {"column": "basket_value", "min_value": 0, "max_value": 20},
    "meta": {"tags": ["advisory"], "owner": "pricing"},
}
"""An advisory promise the demo's healthy week breaks: baskets average about 45, not at most 20."""


@pytest.fixture
def healthy_duckdb(duckdb_url: str) -> FeatureWarehouse:
    """A DuckDB feature table of a healthy week: the contract holds."""
    warehouse = FeatureWarehouse(duckdb_url, None)
    warehouse.load(story_features("healthy"))
    return warehouse


def test_a_suite_path_is_relative_to_the_policy_file(tmp_path: Path) -> None:
    (tmp_path / "suites").mkdir()
    shutil.copy(SUITE_PATH, tmp_path / "suites" / "features.json")
    policy = FeatureWarehouse("duckdb:///unused.duckdb", None).policy(suite="suites/features.json")
    (tmp_path / "policy.yaml").write_text(yaml.safe_dump(policy))

    loaded = load_policy(tmp_path / "policy.yaml")

    assert loaded.check_settings("expectations").suite == str(tmp_path / "suites" / "features.json")


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"suite": "no/such/suite.json"}, "checks.expectations.suite: suite file '"),
        ({"suite": {"name": "empty", "expectations": []}}, "the inline suite has no expectations"),
        (
            {
                "suite": {
                    "name": "gx0",
                    "expectations": [{"expectation_type": "expect_column_to_exist", "kwargs": {}}],
                }
            },
            "GX 0.x's 'expectation_type' is 'type' in GX 1.x",
        ),
        (
            {"suite": str(SUITE_PATH), "action_by_type": {"expect_column_mean_to_be_betwen": "alert"}},
            "checks.expectations.action_by_type: expect_column_mean_to_be_betwen: no expectation in the suite",
        ),
        (
            {"suite": str(SUITE_PATH), "action_by_tag": {"advisory": "train"}},
            "checks.expectations.action_by_tag.advisory",
        ),
    ],
    ids=[
        "missing-file",
        "no-expectations",
        "gx-0.x-format",
        "unknown-type",
        "train-is-not-an-expectation-action",
    ],
)
def test_a_policy_with_an_unusable_suite_is_rejected_before_any_run(settings: dict, problem: str) -> None:
    with pytest.raises(PolicyError) as raised:
        parse_policy(FeatureWarehouse("duckdb:///unused.duckdb", None).policy(**settings))

    assert problem in str(raised.value)


@pytest.mark.parametrize(
    ("mapping", "branch", "action"),
    [
        ({"action_by_tag": {"advisory": "alert"}}, Branch.ALERT, Action.ALERT),
        ({"action_by_type": {"expect_column_mean_to_be_between": "none"}}, Branch.SKIP, Action.NONE),
        ({}, Branch.FIX_FEATURES, Action.FIX_FEATURES),
    ],
    ids=["tag-to-alert", "type-to-none", "default-fix-features"],
)
def test_the_policy_maps_a_failed_expectation_to_its_action(
    healthy_duckdb: FeatureWarehouse, mapping: dict, branch: Branch, action: Action
) -> None:
    suite = contract_suite()
    suite["expectations"].append(ADVISORY_MEAN)

    decision = healthy_duckdb.gate(suite=suite, **mapping)

    assert decision.branch is branch, decision.reasons
    [finding] = [finding for finding in decision.findings if finding.check == "expectations"]
    assert (finding.status, finding.action) == (Status.FAIL, action)
    assert finding.evidence["meta"] == ADVISORY_MEAN["meta"]
    assert finding.evidence["observed_value"] == pytest.approx(finding.value) and finding.value > 20


def test_an_expectation_gx_cannot_evaluate_means_the_gate_cannot_diagnose(
    healthy_duckdb: FeatureWarehouse,
) -> None:
    suite = contract_suite()
    suite["expectations"].append(
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "basket_valu"}}
    )

    decision = healthy_duckdb.gate(suite=suite)

    assert decision.branch is Branch.ALERT, decision.reasons  # on_error
    [finding] = [finding for finding in decision.findings if finding.status is Status.ERROR]
    assert finding.subject == "features.basket_valu"
    assert (
        'could not be evaluated: Error: The column "basket_valu" in BatchData does not exist.'
        in finding.message
    )


def test_an_expectation_type_gx_does_not_know_is_named(healthy_duckdb: FeatureWarehouse) -> None:
    suite = contract_suite()
    suite["expectations"].insert(
        2, {"type": "expect_column_values_to_be_purple", "kwargs": {"column": "segment"}}
    )

    decision = healthy_duckdb.gate(suite=suite)

    assert decision.branch is Branch.ALERT, decision.reasons
    [finding] = [finding for finding in decision.findings if finding.check == "expectations"]
    assert finding.status is Status.ERROR
    assert finding.message.startswith(
        "checks.expectations.suite: expectations[2] (expect_column_values_to_be_purple) is not valid in GX 1.24"
    )


def test_duckdb_refuses_to_read_more_rows_than_the_cap(healthy_duckdb: FeatureWarehouse) -> None:
    decision = healthy_duckdb.gate(suite=str(SUITE_PATH), max_rows=5000)  # the week holds about 10,000

    assert decision.branch is Branch.ALERT, decision.reasons
    [finding] = [finding for finding in decision.findings if finding.check == "expectations"]
    assert finding.status is Status.ERROR
    assert "checks.expectations.max_rows: the current window has more than 5,000 rows" in finding.message
