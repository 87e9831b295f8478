"""On SQL warehouses GX validates through a query asset: the database applies the window, and no history is read."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

from airflow_retrain_gate.core import Branch, Status, Warehouse, parse_policy, run_gate
from airflow_retrain_gate.demo.catalog import DEMO_AS_OF
from tests.expectations.conftest import SUITE_PATH, FeatureWarehouse, contract_suite, story_features

WINDOW_START = DEMO_AS_OF - timedelta(days=7)


def history_broke_the_contract(features: pd.DataFrame) -> None:
    """A month ago engagement went missing and a since-retired intent was logged; the current week is clean."""
    month_ago = features["event_ts"].between(pd.Timestamp("2024-04-25"), pd.Timestamp("2024-05-05"))
    features.loc[month_ago, "engagement_rate"] = None
    features.loc[month_ago, "query_intent"] = "retired_intent"


@pytest.mark.postgres
def test_the_sql_gx_sends_is_bounded_to_the_window(postgres_server: str, postgres_schema: str) -> None:
    feature_warehouse = FeatureWarehouse(postgres_server, postgres_schema)
    feature_warehouse.load(story_features("healthy", edit=history_broke_the_contract))
    warehouse = Warehouse(postgres_server)
    sent_by_gx: list[tuple[str, int]] = []  # (statement, rows it returned)

    def capture(connection: sa.Connection, cursor: Any, statement: str, *args: Any) -> None:
        if connection.engine is not warehouse.engine:
            sent_by_gx.append((statement, cursor.rowcount))

    sa.event.listen(sa.engine.Engine, "after_cursor_execute", capture)
    try:
        decision = run_gate(
            parse_policy(feature_warehouse.policy(suite=str(SUITE_PATH))), warehouse, DEMO_AS_OF
        )
    finally:
        sa.event.remove(sa.engine.Engine, "after_cursor_execute", capture)
        warehouse.dispose()

    [finding] = [finding for finding in decision.findings if finding.check == "expectations"]
    assert finding.status is Status.PASS, finding.message  # the broken history lies outside the window
    assert finding.evidence["validated_with"]["engine"] == "sql"
    reads = [
        (statement, rows) for statement, rows in sent_by_gx if f"{postgres_schema}.features" in statement
    ]
    assert len(reads) >= 5, sent_by_gx
    logged = [record for record in warehouse.query_log.records if record.purpose == "expectations: GX query"]
    assert [record.rows for record in logged] == [rows for _, rows in sent_by_gx]  # counted in the decision
    for statement, rows in reads:
        assert f"features.event_ts >= '{WINDOW_START:%Y-%m-%d} 00:00:00'" in statement, statement
        assert f"features.event_ts < '{DEMO_AS_OF:%Y-%m-%d} 00:00:00'" in statement, statement
        assert rows <= 20, f"{rows} rows came back for: {statement}"  # aggregates and GX's 20 examples only


def test_sqlite_validates_through_a_query_asset(sqlite_url: str) -> None:
    feature_warehouse = FeatureWarehouse(sqlite_url, None)
    feature_warehouse.load(story_features("stale_taxonomy", seed=2))

    decision = feature_warehouse.gate(suite=str(SUITE_PATH))

    assert decision.branch is Branch.FIX_FEATURES, decision.reasons
    [finding] = [finding for finding in decision.findings if finding.check == "expectations"]
    assert finding.evidence["expectation_type"] == "expect_column_values_to_be_in_set"
    assert finding.evidence["validated_with"]["engine"] == "sql"
    assert "WHERE features.event_ts >= '2024-05-25 00:00:00" in finding.evidence["validated_with"]["query"]


def test_type_expectations_need_what_a_query_asset_cannot_show(sqlite_url: str) -> None:
    feature_warehouse = FeatureWarehouse(sqlite_url, None)
    feature_warehouse.load(story_features("healthy"))
    suite = contract_suite()
    suite["expectations"].append(
        {"type": "expect_column_values_to_be_of_type", "kwargs": {"column": "tenure_score", "type_": "FLOAT"}}
    )

    decision = feature_warehouse.gate(suite=suite)

    assert decision.branch is Branch.ALERT, decision.reasons  # on_error: the gate could not diagnose
    [finding] = [finding for finding in decision.findings if finding.check == "expectations"]
    assert finding.status is Status.ERROR
    assert "GX sees only column names, not types, through a query asset" in finding.message
