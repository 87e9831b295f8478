"""The same stories in warehouses shaped differently: other table and column names, aware timestamps,
boolean labels, a schema-qualified shared predictions table, events without an end, as_of mid-day."""

from __future__ import annotations

import pandas as pd
import pytest

from airflow_retrain_gate.core import Branch, Warehouse, parse_policy, run_gate
from airflow_retrain_gate.demo.loading import load_tables
from airflow_retrain_gate.demo.stories import STORIES, build_story

COLUMNS = {
    "features": {
        "event_ts": "observed_at",
        "entity_id": "txn_id",
        "segment": "cohort",
        "tenure_score": "Tenure Score",
        "basket_value": "amount_eur",
        "engagement_rate": "eng",
        "query_intent": "intent",
    },
    "predictions": {
        "event_ts": "scored_at",
        "entity_id": "txn_id",
        "model_name": "model",
        "score": "p_fraud",
        "risk_band": "band",
    },
    "outcomes": {
        "entity_id": "txn_id",
        "label_ts": "known_at",
        "outcome": "is_fraud",
        "clicked": "clicked",
        "dwell_seconds": "dwell",
    },
    "overrides": {"event_ts": "reviewed_at", "entity_id": "txn_id", "overridden": "analyst_override"},
    "events": {"starts_at": "day", "kind": "kind", "description": "title"},
    "training_signals": {
        "event_ts": "logged_at",
        "entity_id": "txn_id",
        "user_active": "active",
        "experiment_arm": "arm",
        "feedback_complete": "complete",
    },
}
TABLES = {
    "features": "fx_inputs",
    "predictions": "scores",
    "outcomes": "chargebacks",
    "overrides": "analyst_reviews",
    "events": "calendar",
    "training_signals": "train_rows",
}


def reshape(frames: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Rename tables and columns, make timestamps aware, labels and flags boolean, events one-day."""
    shaped = {}
    for name, frame in frames.items():
        frame = frame.copy()
        if name == "events":
            frame = frame.drop(columns=["ends_at"])
        for column in frame.columns:
            if str(frame[column].dtype).startswith("datetime"):
                frame[column] = frame[column].dt.tz_localize("UTC")
        for column in ("outcome", "overridden", "user_active", "clicked"):
            if column in frame:
                frame[column] = frame[column].astype(bool)
        shaped[TABLES[name]] = frame.rename(columns=COLUMNS[name])
    return shaped


def policy(schema: str | None) -> dict[str, object]:
    def table(name: str) -> str:
        return f"{schema}.{TABLES[name]}" if schema else TABLES[name]

    return {
        "name": "fraud-v2",
        "windows": {"reference": {"start": "-56d", "end": "-28d"}, "current": {"start": "-7d", "end": "0d"}},
        "tables": {
            "features": {
                "table": table("features"),
                "timestamp": "observed_at",
                "numeric": ["Tenure Score", "amount_eur", "eng"],
                "categorical": ["intent"],
                "segment": "cohort",
            },
            "predictions": {
                "table": table("predictions"),
                "timestamp": "scored_at",
                "entity": "txn_id",
                "score": "p_fraud",
                "band": "band",
                "filters": {"model": ["fraud-scorer", "fraud-scorer-shadow"]},
            },
            "outcomes": {
                "table": table("outcomes"),
                "entity": "txn_id",
                "label_timestamp": "known_at",
                "label": "is_fraud",
                "proxy": "clicked",
                "engagement": "dwell",
            },
            "overrides": {
                "table": table("overrides"),
                "timestamp": "reviewed_at",
                "flag": "analyst_override",
            },
            "events": {"table": table("events"), "starts_at": "day", "kind": "kind", "description": "title"},
            "training_signals": {
                "table": table("training_signals"),
                "timestamp": "logged_at",
                "active": "active",
                "experiment_arm": "arm",
                "control_arm": "control",
                "feedback_complete": "complete",
            },
        },
    }


@pytest.mark.parametrize(
    "story",
    [
        "healthy",
        "scale_change",
        "transient_campaign",
        "kpi_band_misaligned",
        "trust_decay",
        "concept_drift",
        "stable_harmless_drift",
    ],
)
def test_stories_in_another_shape_on_duckdb(duckdb_url: str, story: str) -> None:
    load_tables(duckdb_url, reshape(build_story(story, seed=2, rows_per_day=1500)))
    decision = run_gate(parse_policy(policy(None)), Warehouse(duckdb_url), "2024-05-31T21:00:00Z")
    assert decision.branch is Branch(STORIES[story].branch), decision.reasons


@pytest.mark.postgres
@pytest.mark.parametrize("story", ["biased_training_signals", "proxy_misaligned", "segment_mix_shift"])
def test_stories_in_another_shape_on_postgresql(
    postgres_server: str, postgres_schema: str, story: str
) -> None:
    load_tables(
        postgres_server, reshape(build_story(story, seed=2, rows_per_day=1000)), schema=postgres_schema
    )
    decision = run_gate(
        parse_policy(policy(postgres_schema)), Warehouse(postgres_server), "2024-05-31T21:00:00Z"
    )
    assert decision.branch is Branch(STORIES[story].branch), decision.reasons
