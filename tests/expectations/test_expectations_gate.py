"""A feature team's Great Expectations suite gates retraining: each story breaks one promise of the contract."""

from __future__ import annotations

import json

import pandas as pd

from airflow_retrain_gate.core import Branch, Decision, Finding, Status
from airflow_retrain_gate.demo.catalog import DEMO_AS_OF
from airflow_retrain_gate.demo.world import INTENTS
from tests.expectations.conftest import SUITE_PATH, FeatureWarehouse, story_features


def broken_promises(decision: Decision) -> dict[tuple[str, str | None], Finding]:
    """(expectation type, column) -> finding, for each expectation that failed."""
    return {
        (finding.evidence["expectation_type"], finding.evidence["column"]): finding
        for finding in decision.findings
        if finding.check == "expectations" and finding.status is Status.FAIL
    }


def assert_fixes_features_because(decision: Decision, expectation_type: str, column: str | None) -> Finding:
    """The gate routes to fix_features, decided by exactly this failed expectation; returns its finding."""
    assert decision.branch is Branch.FIX_FEATURES, decision.reasons
    assert "expectations" in decision.deciding_checks, decision.reasons
    broken = broken_promises(decision)
    assert list(broken) == [(expectation_type, column)], [finding.message for finding in broken.values()]
    finding = broken[(expectation_type, column)]
    assert finding.action.value == "fix_features"
    assert finding.evidence["gx_result"], "GX's own result travels in the evidence"
    assert any(reason == finding.message for reason in decision.reasons)
    return finding


def test_a_passing_suite_leaves_the_branch_alone(feature_warehouse: FeatureWarehouse) -> None:
    feature_warehouse.load(story_features("healthy"))

    without_suite = feature_warehouse.gate()
    decision = feature_warehouse.gate(suite=str(SUITE_PATH))

    assert decision.branch is without_suite.branch is Branch.SKIP, decision.reasons
    [finding] = [finding for finding in decision.findings if finding.check == "expectations"]
    assert finding.status is Status.PASS
    assert finding.message.startswith("Great Expectations suite 'features_contract' passed: 12 expectations")
    json.dumps(decision.to_dict())  # the quantile expectation's numpy boolean (marshmallow 4) is plain JSON


def test_nulls_from_an_upstream_source(feature_warehouse: FeatureWarehouse) -> None:
    def upstream_stops_sending_engagement(features: pd.DataFrame) -> None:
        last_two_days = features["event_ts"] >= DEMO_AS_OF.replace(tzinfo=None) - pd.Timedelta(days=2)
        features.loc[last_two_days, "engagement_rate"] = None

    feature_warehouse.load(story_features("healthy", edit=upstream_stops_sending_engagement))

    decision = feature_warehouse.gate(suite=str(SUITE_PATH))

    finding = assert_fixes_features_because(
        decision, "expect_column_values_to_not_be_null", "engagement_rate"
    )
    assert 0.25 < finding.value < 0.32  # two days of seven
    assert finding.statistic == "unexpected_share" and finding.threshold == 0.0
    assert finding.evidence["gx_result"]["unexpected_count"] == round(
        finding.value * finding.evidence["gx_result"]["element_count"]
    )


def test_values_out_of_range_after_a_unit_change(feature_warehouse: FeatureWarehouse) -> None:
    feature_warehouse.load(story_features("scale_change", seed=0))  # basket_value arrives in cents

    decision = feature_warehouse.gate(suite=str(SUITE_PATH))

    finding = assert_fixes_features_because(decision, "expect_column_values_to_be_between", "basket_value")
    assert finding.evidence["expected"] == {"min_value": 0, "max_value": 2000}
    assert finding.value > 0.5  # most baskets now exceed 2,000
    assert "between 0 and 2,000" in finding.message


def test_categories_outside_the_taxonomy(feature_warehouse: FeatureWarehouse) -> None:
    feature_warehouse.load(
        story_features("stale_taxonomy", seed=2)
    )  # new intents the categoriser passes through

    decision = feature_warehouse.gate(suite=str(SUITE_PATH))

    finding = assert_fixes_features_because(decision, "expect_column_values_to_be_in_set", "query_intent")
    new_intents = set(finding.evidence["gx_result"]["partial_unexpected_list"])
    assert new_intents and not new_intents & set(INTENTS)
    assert any(intent in finding.message for intent in new_intents)


def test_too_few_rows_when_the_pipeline_lags(feature_warehouse: FeatureWarehouse) -> None:
    feature_warehouse.load(story_features("pipeline_lag", seed=0))  # the last three days never arrived

    decision = feature_warehouse.gate(suite=str(SUITE_PATH))

    finding = assert_fixes_features_because(decision, "expect_table_row_count_to_be_between", None)
    assert finding.statistic == "observed_value" and finding.value < 7000
    assert finding.evidence["observed_value"] == finding.value
    assert "expected at least 7,000" in finding.message
