"""residual_drift: the outcome given the inputs changes where the score bins cannot see it.

A small hand-made world on DuckDB: the model scores sigmoid(x - 2) and ignores z. In the current window the risk
can move along z: the outcome's probability departs from the score by +-`risk_shift` of min(score, 1 - score) for z
above or below 0. z is independent of x and symmetric, so every score bin keeps its outcome rate and only residuals
by bin of z show the change.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest

from airflow_retrain_gate.core import Action, Branch, Decision, Status, Warehouse, parse_policy, run_gate
from airflow_retrain_gate.core.findings import NOT_CONFIGURED, Finding
from airflow_retrain_gate.core.multiple_testing import holm
from airflow_retrain_gate.demo.catalog import DEMO_AS_OF
from airflow_retrain_gate.demo.loading import load_tables

REFERENCE_DAYS = range(0, 28)
CURRENT_DAYS = range(56, 63)
"""Days since the start, 63 days before as_of: the policy's windows (-63d..-35d and -7d..0d)."""


def world(
    seed: int, *, risk_shift: float = 0.0, from_day: int = CURRENT_DAYS.start, z_shift: float = 0.0
) -> dict[str, pd.DataFrame]:
    """Features (x, z), predictions and outcomes, 300 rows a day in each window. From `from_day` on the outcome's
    risk moves along z by `risk_shift`; the current z moves by `z_shift`."""
    rng = np.random.default_rng(seed)
    day = np.concatenate([np.repeat(np.asarray(days), 300) for days in (REFERENCE_DAYS, CURRENT_DAYS)])
    size = len(day)
    x = rng.normal(2.0, 1.5, size)
    standing = rng.normal(0.0, 1.0, size)
    z = standing + np.where(day >= CURRENT_DAYS.start, z_shift, 0.0)
    score = 1 / (1 + np.exp(-(x - 2.0)))
    moved = np.where(day >= from_day, risk_shift * np.sign(standing), 0.0)
    outcome = (rng.uniform(0, 1, size) < score + moved * np.minimum(score, 1 - score)).astype(int)
    start = pd.Timestamp(DEMO_AS_OF - timedelta(days=CURRENT_DAYS.stop)).tz_localize(None)
    event_ts = start + pd.to_timedelta(day + rng.uniform(0, 0.9, size), unit="D")
    entity = np.arange(size)
    return {
        "features": pd.DataFrame({"event_ts": event_ts, "entity_id": entity, "x": x, "z": z}),
        "predictions": pd.DataFrame({"event_ts": event_ts, "entity_id": entity, "score": score}),
        "outcomes": pd.DataFrame(
            {"entity_id": entity, "label_ts": event_ts + pd.Timedelta(hours=1), "outcome": outcome}
        ),
    }


POLICY: dict[str, Any] = {
    "name": "risk-along-z",
    "tables": {
        "features": {
            "table": "features",
            "timestamp": "event_ts",
            "entity": "entity_id",
            "numeric": ["x", "z"],
        },
        "predictions": {
            "table": "predictions",
            "timestamp": "event_ts",
            "entity": "entity_id",
            "score": "score",
        },
        "outcomes": {
            "table": "outcomes",
            "entity": "entity_id",
            "label_timestamp": "label_ts",
            "label": "outcome",
        },
    },
}


def gate(url: str, frames: dict[str, pd.DataFrame], policy: dict[str, Any] = POLICY) -> Decision:
    """Load the frames and decide at the demo's as_of."""
    load_tables(url, frames)
    warehouse = Warehouse(url)
    try:
        return run_gate(parse_policy(policy), warehouse, DEMO_AS_OF)
    finally:
        warehouse.dispose()


def finding_of(decision: Decision, check: str) -> Finding:
    """The decision's one finding of `check`."""
    [finding] = [f for f in decision.findings if f.check == check]
    return finding


def test_risk_that_moves_along_a_feature_the_score_ignores_asks_for_train(duckdb_url: str) -> None:
    decision = gate(duckdb_url, world(0, risk_shift=0.6))

    assert decision.branch is Branch.TRAIN, decision.reasons
    assert decision.deciding_checks == ("residual_drift",)
    assert finding_of(decision, "concept_drift").status is Status.PASS
    residuals = finding_of(decision, "residual_drift")
    assert residuals.subject == "features.z"
    assert residuals.message.startswith("The outcome given the inputs changed: for predictions with z ")
    chart = residuals.evidence["residual_by_feature_bin"]
    # Below z = 0 the outcome now runs under the score, above it over: the residual's sign follows z.
    assert chart["current"][0] < chart["reference"][0] - 0.05
    assert chart["current"][-1] > chart["reference"][-1] + 0.05
    assert len(chart["labels"]) == len(chart["current"]) == 10


def test_features_in_the_predictions_table_join_their_own_rows(duckdb_url: str) -> None:
    frames = world(0, risk_shift=0.6)
    scored = frames.pop("predictions").merge(frames.pop("features"), on=["event_ts", "entity_id"])
    policy = {
        **POLICY,
        "tables": {**POLICY["tables"], "features": {**POLICY["tables"]["features"], "table": "predictions"}},
    }

    decision = gate(duckdb_url, {**frames, "predictions": scored}, policy)

    assert finding_of(decision, "residual_drift").subject == "predictions.z"
    assert decision.branch is Branch.TRAIN, decision.reasons


@pytest.mark.postgres
def test_an_entity_key_stored_as_text_in_the_features_table_still_joins(
    postgres_server: str, postgres_schema: str
) -> None:
    frames = world(0, risk_shift=0.6)
    frames["features"]["entity_id"] = frames["features"]["entity_id"].astype(str)
    load_tables(postgres_server, frames, schema=postgres_schema)
    tables = {
        name: {**mapping, "table": f"{postgres_schema}.{mapping['table']}"}
        for name, mapping in POLICY["tables"].items()
    }
    warehouse = Warehouse(postgres_server)
    try:
        decision = run_gate(parse_policy({**POLICY, "tables": tables}), warehouse, DEMO_AS_OF)
    finally:
        warehouse.dispose()

    assert finding_of(decision, "residual_drift").subject == f"{postgres_schema}.features.z"
    assert decision.branch is Branch.TRAIN, decision.reasons


def test_a_population_that_moves_along_z_keeps_its_residuals_and_passes(duckdb_url: str) -> None:
    decision = gate(duckdb_url, world(1, z_shift=1.0))

    assert decision.branch is Branch.SKIP, decision.reasons
    residuals = finding_of(decision, "residual_drift")
    assert residuals.status is Status.PASS
    assert residuals.value < 0.2


def test_a_change_of_the_last_days_only_alerts(duckdb_url: str) -> None:
    decision = gate(duckdb_url, world(2, risk_shift=0.9, from_day=CURRENT_DAYS.stop - 3))

    residuals = finding_of(decision, "residual_drift")
    assert residuals.status is Status.FAIL and residuals.action is Action.ALERT, residuals.message
    assert "not in both halves of the window" in residuals.message
    assert decision.branch is Branch.ALERT


def test_without_a_features_entity_residuals_are_not_configured(duckdb_url: str) -> None:
    features = {key: value for key, value in POLICY["tables"]["features"].items() if key != "entity"}
    policy = {**POLICY, "tables": {**POLICY["tables"], "features": features}}

    decision = gate(duckdb_url, world(3, risk_shift=0.6), policy)

    residuals = finding_of(decision, "residual_drift")
    assert residuals.status is Status.INSUFFICIENT_DATA
    assert residuals.evidence[NOT_CONFIGURED] == "tables.features.entity"
    assert decision.branch is not Branch.TRAIN


@pytest.mark.parametrize(
    ("p_values", "adjusted"),
    [
        ([0.01, 0.04, 0.03, 0.005], [0.03, 0.06, 0.06, 0.02]),
        ([0.5, 0.0001], [0.5, 0.0002]),
        ([0.3, 0.3, 0.9], [0.9, 0.9, 0.9]),
    ],
)
def test_holm_multiplies_the_smallest_p_value_by_the_number_of_tests_and_keeps_the_order(
    p_values: list[float], adjusted: list[float]
) -> None:
    assert holm(p_values) == pytest.approx(adjusted)
