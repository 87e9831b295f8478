"""A gate that cannot diagnose says why, names the field, and never trains."""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa

from airflow_retrain_gate.core import Branch, Status, Warehouse, parse_policy, run_gate
from airflow_retrain_gate.demo.catalog import DEMO_AS_OF
from airflow_retrain_gate.demo.loading import load_tables
from airflow_retrain_gate.demo.stories import build_story, story_policy


@pytest.fixture
def concept_drift_warehouse(duckdb_url: str) -> str:
    """A small warehouse whose story calls for `train` when it can be diagnosed."""
    load_tables(duckdb_url, build_story("concept_drift", rows_per_day=600))
    return duckdb_url


def gate(url: str, policy: dict[str, object]) -> tuple[Branch, list[str]]:
    decision = run_gate(parse_policy(policy), Warehouse(url), DEMO_AS_OF)
    return decision.branch, [f.message for f in decision.findings if f.status is Status.ERROR]


def test_a_missing_table_names_the_field_and_the_tables_that_exist(concept_drift_warehouse: str) -> None:
    policy = story_policy("concept_drift")
    policy["tables"]["outcomes"]["table"] = "outcome"  # type: ignore[index]
    branch, errors = gate(concept_drift_warehouse, policy)
    assert branch is Branch.ALERT
    assert any(
        "tables.outcomes.table: table 'outcome' not found" in error and "outcomes" in error
        for error in errors
    )


def test_a_missing_column_names_the_field_and_lists_the_columns(concept_drift_warehouse: str) -> None:
    policy = story_policy("concept_drift")
    policy["tables"]["outcomes"]["label"] = "outcome_flag"  # type: ignore[index]
    branch, errors = gate(concept_drift_warehouse, policy)
    assert branch is Branch.ALERT
    assert any(
        "tables.outcomes.label: column 'outcome_flag' not found in table 'outcomes' (columns: entity_id, label_ts, outcome"
        in error
        for error in errors
    )


def test_on_error_can_route_to_fix_features_but_never_to_train(concept_drift_warehouse: str) -> None:
    policy = story_policy("concept_drift") | {"on_error": "fix_features"}
    policy["tables"]["predictions"]["score"] = "probability"  # type: ignore[index]
    branch, _ = gate(concept_drift_warehouse, policy)
    assert branch is Branch.FIX_FEATURES


def test_an_unreachable_warehouse_takes_on_error() -> None:
    policy = story_policy("healthy")
    branch, errors = gate("postgresql+psycopg2://nobody:secret-password@127.0.0.1:1/none", policy)
    assert branch is Branch.ALERT
    assert errors and all("secret-password" not in error for error in errors)


def test_a_text_column_used_as_a_number_is_a_policy_error(duckdb_url: str) -> None:
    """The column was text in both windows and no cached profile says otherwise: the mapping is wrong (on_error);
    tests/reliability/test_policy_roles.py shows the upstream change a cached reference profile reveals."""
    frames = build_story("healthy", rows_per_day=300)
    frames["features"]["basket_value"] = frames["features"]["basket_value"].map("{:.2f} EUR".format)
    load_tables(duckdb_url, frames)
    decision = run_gate(parse_policy(story_policy("healthy")), Warehouse(duckdb_url), DEMO_AS_OF)
    assert decision.branch is Branch.ALERT
    [schema] = [finding for finding in decision.findings if finding.check == "schema"]
    assert schema.status is Status.ERROR
    assert schema.message.startswith(
        "tables.features.numeric[1]: column 'basket_value' of table 'features' is VARCHAR; the policy uses it as a "
        "number"
    )


def test_an_empty_current_window_is_missing_data_not_a_reason_to_train(concept_drift_warehouse: str) -> None:
    decision = run_gate(
        parse_policy(story_policy("concept_drift")),
        Warehouse(concept_drift_warehouse),
        "2024-06-20T00:00:00Z",
    )
    assert decision.branch is Branch.FIX_FEATURES
    assert {"freshness", "volume"} <= set(decision.deciding_checks)


def test_windows_without_any_rows_cannot_be_diagnosed(concept_drift_warehouse: str) -> None:
    decision = run_gate(
        parse_policy(story_policy("concept_drift")),
        Warehouse(concept_drift_warehouse),
        "2030-01-01T00:00:00Z",
    )
    assert decision.branch is not Branch.TRAIN
    volume = next(f for f in decision.findings if f.check == "volume")
    assert (
        volume.status is Status.ERROR and "no rows in the reference or the current window" in volume.message
    )


def test_identifiers_with_quotes_and_semicolons_are_quoted_not_executed(duckdb_url: str) -> None:
    weird_table = 'events"; DROP TABLE victim; --'
    frames = build_story("healthy", rows_per_day=300)
    features = frames["features"].rename(columns={"tenure_score": "tenure'); DELETE FROM victim; --"})
    load_tables(duckdb_url, {"victim": pd.DataFrame({"x": [1]}), weird_table: features})
    policy = story_policy("healthy")
    policy["tables"] = {
        "features": {
            **policy["tables"]["features"],
            "table": weird_table,
            "numeric": ["tenure'); DELETE FROM victim; --"],
        }
    }  # type: ignore[index]
    decision = run_gate(parse_policy(policy), Warehouse(duckdb_url), DEMO_AS_OF)
    assert decision.branch is Branch.SKIP
    with sa.create_engine(duckdb_url).connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM victim")).scalar() == 1


def test_filters_select_one_model_from_a_shared_table(duckdb_url: str) -> None:
    frames = build_story("concept_drift", rows_per_day=600)
    other_model = frames["predictions"].assign(model_name="churn-model", score=0.5)
    frames["predictions"] = pd.concat([frames["predictions"], other_model])
    load_tables(duckdb_url, frames)
    decision = run_gate(parse_policy(story_policy("concept_drift")), Warehouse(duckdb_url), DEMO_AS_OF)
    assert decision.branch is Branch.TRAIN
    # Every finding on the shared table names the model's slice, so on-call reaches the right owner.
    on_predictions = [f for f in decision.findings if f.subject.startswith("predictions")]
    assert {f.check for f in on_predictions} >= {"concept_drift", "score_health", "kpi_by_band"}
    assert all(f.subject.startswith("predictions[model_name = 'fraud-scorer']") for f in on_predictions)
    assert "predictions[model_name = 'fraud-scorer'].score" in {f.subject for f in on_predictions}


@pytest.mark.parametrize("shift", [pd.Timedelta(days=400), pd.Timedelta(hours=24 * 70 + 5)])
def test_features_all_dated_after_as_of_are_named_as_such_not_as_a_pipeline_that_stopped(
    duckdb_url: str, shift: pd.Timedelta
) -> None:
    """Timestamps shifted into the future (a unit or time-zone bug): fix_features, saying where the rows begin."""
    frames = build_story("healthy", rows_per_day=200)
    frames["features"]["event_ts"] = frames["features"]["event_ts"] + shift
    load_tables(duckdb_url, frames)
    decision = run_gate(parse_policy(story_policy("healthy")), Warehouse(duckdb_url), DEMO_AS_OF)

    assert decision.branch is Branch.FIX_FEATURES
    [freshness] = [finding for finding in decision.findings if finding.check == "freshness"]
    earliest = (frames["features"]["event_ts"].min()).tz_localize("UTC")
    assert f"its rows begin after as_of, at {earliest:%Y-%m-%d %H:%M} UTC" in freshness.message
    assert freshness.evidence["first_timestamp_after_as_of"] == earliest.isoformat()


def test_a_table_without_later_rows_is_a_pipeline_that_stopped(concept_drift_warehouse: str) -> None:
    decision = run_gate(
        parse_policy(story_policy("concept_drift")),
        Warehouse(concept_drift_warehouse),
        "2030-01-01T00:00:00Z",
    )
    [freshness] = [finding for finding in decision.findings if finding.check == "freshness"]
    assert freshness.message.endswith(": the feature pipeline is not delivering.")
    assert freshness.evidence["first_timestamp_after_as_of"] is None
