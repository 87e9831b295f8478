"""Fuzzing with hypothesis: the policy loader and the gate on random small tables raise nothing unexpected,
and tables whose labels, scores or features are unusable never lead to train."""

from __future__ import annotations

import copy
import json
import math
import os
from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.pool import StaticPool

from airflow_retrain_gate.core import (
    Branch,
    Policy,
    PolicyError,
    Status,
    Warehouse,
    load_policy,
    parse_policy,
    run_gate,
)
from airflow_retrain_gate.demo.catalog import DEMO_AS_OF

from .bad_policies import BASE

SEARCH = int(os.environ.get("RETRAIN_GATE_FUZZ_EXAMPLES", "0"))
FUZZ = settings(
    max_examples=SEARCH or 40,
    deadline=None,
    derandomize=not SEARCH,
    suppress_health_check=[HealthCheck.too_slow],
)
"""40 fixed examples per test, so CI runs the same ones every time; RETRAIN_GATE_FUZZ_EXAMPLES=2000 searches
that many random examples instead."""

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(
        ["-7d", "0d", "7d", "-63d", "2024-05-01", "train", "alert", "skip", "fix_features", "1e400"]
    ),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
PATHS = st.sampled_from(
    [
        "name",
        "windows",
        "windows.reference",
        "windows.reference.start",
        "windows.current.end",
        "tables",
        "tables.features",
        "tables.features.table",
        "tables.features.numeric",
        "tables.features.timestamp",
        "tables.predictions.filters",
        "tables.outcomes",
        "checks",
        "checks.drift",
        "checks.drift.warn",
        "checks.freshness.max_lag",
        "checks.label_maturity.max_unscored",
        "actions",
        "actions.drift",
        "cooldown",
        "on_error",
        "statistics.min_rows",
        "branches.train",
        "extends",
    ]
)


def mutated(changes: list[tuple[str, Any]]) -> dict[str, Any]:
    """BASE with each dotted path set to a value (or removed, for the marker 'DELETE')."""
    policy = copy.deepcopy(BASE)
    for path, value in changes:
        *parents, last = path.split(".")
        section: Any = policy
        for key in parents:
            if not isinstance(section, dict):
                break
            section = section.setdefault(key, {})
        if not isinstance(section, dict):
            continue
        if value == "DELETE":
            section.pop(last, None)
        else:
            section[last] = value
    return policy


def assert_usable(policy: Policy) -> None:
    """What every accepted policy guarantees: a non-train on_error and finite numbers throughout."""
    assert policy.on_error != "train"
    numbers = [value for value in _leaves(policy.model_dump()) if isinstance(value, float)]
    assert all(math.isfinite(value) for value in numbers)


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in _leaves(item)]
    if isinstance(value, list | tuple):
        return [leaf for item in value for leaf in _leaves(item)]
    return [value]


@FUZZ
@given(st.lists(st.tuples(PATHS, VALUES | st.just("DELETE")), min_size=1, max_size=4))
def test_the_policy_validator_accepts_or_names_the_problem(changes: list[tuple[str, Any]]) -> None:
    try:
        policy = parse_policy(mutated(changes))
    except PolicyError as error:
        assert error.problems and all(problem.strip() for problem in error.problems)
    else:
        assert_usable(policy)


@FUZZ
@given(st.text(max_size=200) | VALUES.map(lambda value: yaml.safe_dump(value, allow_unicode=True)))
def test_the_policy_file_loader_accepts_or_names_the_problem(
    tmp_path_factory: pytest.TempPathFactory, text: str
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "policy.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        assert_usable(load_policy(path))
    except PolicyError as error:
        assert str(error).startswith(str(path))


TIMESTAMPS = st.datetimes(min_value=datetime(2024, 3, 1), max_value=datetime(2024, 6, 10))
"""Before, inside and after both windows (reference 03-30..04-27, current 05-25..06-01)."""
NUMBERS = st.one_of(
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(-1e6, 1e6),
    st.integers(-5, 5).map(float),
)
CATEGORIES = st.one_of(st.none(), st.sampled_from(["search", "billing", "other"]), st.text(max_size=6))
PROBABILITIES = st.floats(0, 1)
UNUSABLE = st.sampled_from([None, math.nan, math.inf, -math.inf])


@st.composite
def small_tables(draw: st.DrawFn, breakage: str | None = None) -> dict[str, list[tuple[Any, ...]]]:
    """Features, predictions and outcomes of up to 60 entities; `breakage` spoils one part of them."""
    entities = draw(st.integers(min_value=0, max_value=60))
    features, predictions, outcomes = [], [], []
    for entity in range(entities):
        at = draw(TIMESTAMPS)
        features.append((at, entity, draw(NUMBERS), draw(NUMBERS), draw(CATEGORIES)))
        score = draw(UNUSABLE) if breakage == "scores" else draw(PROBABILITIES | NUMBERS)
        predictions.append((at, entity, score))
        if draw(st.booleans()):
            label = draw(UNUSABLE) if breakage == "labels" else draw(st.sampled_from([0.0, 1.0]) | NUMBERS)
            outcomes.append((entity, draw(TIMESTAMPS), label))
    if breakage == "features":
        features = []
    return {"features": features, "predictions": predictions, "outcomes": outcomes}


COLUMNS = {
    "features": "event_ts TIMESTAMP, entity_id BIGINT, x DOUBLE, y DOUBLE, category VARCHAR",
    "predictions": "event_ts TIMESTAMP, entity_id BIGINT, score DOUBLE",
    "outcomes": "entity_id BIGINT, label_ts TIMESTAMP, label DOUBLE",
}
FUZZ_POLICY: dict[str, Any] = {
    "name": "fuzz",
    "tables": {
        "features": {
            "table": "features",
            "timestamp": "event_ts",
            "entity": "entity_id",
            "numeric": ["x", "y"],
            "categorical": ["category"],
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
            "label": "label",
        },
    },
    "statistics": {"min_rows": 5},
    "checks": {"label_maturity": {"min_labels": 5}},
}
"""Small thresholds, so that the checks judge these small tables instead of reporting too little data."""


def gate_on(tables: dict[str, list[tuple[Any, ...]]]) -> Any:
    """Load the tables into an in-memory DuckDB (NaN and infinities bound as they are) and run the gate."""
    engine = sa.create_engine("duckdb:///:memory:", poolclass=StaticPool)
    with engine.begin() as connection:
        for name, rows in tables.items():
            connection.exec_driver_sql(f"CREATE TABLE {name} ({COLUMNS[name]})")
            if rows:
                marks = ", ".join("?" * len(rows[0]))
                connection.exec_driver_sql(f"INSERT INTO {name} VALUES ({marks})", rows)
    try:
        return run_gate(parse_policy(FUZZ_POLICY), Warehouse(engine), DEMO_AS_OF)
    finally:
        engine.dispose()


def assert_diagnosed_without_crashing(decision: Any) -> None:
    """No check or profile raised: an exception inside would show as an 'internal error' or 'failed' finding."""
    crashed = [
        f.message
        for f in decision.findings
        if f.status is Status.ERROR
        and ("internal error" in f.message or f.message.startswith(f"check {f.check} failed"))
    ]
    assert not crashed, crashed
    json.dumps(decision.to_dict(), allow_nan=False)


@FUZZ
@given(small_tables())
def test_random_small_tables_are_diagnosed_without_crashing(tables: dict[str, list[tuple[Any, ...]]]) -> None:
    assert_diagnosed_without_crashing(gate_on(tables))


@FUZZ
@given(st.sampled_from(["labels", "scores", "features"]).flatmap(lambda part: small_tables(part)))
def test_unusable_labels_scores_or_features_never_train(tables: dict[str, list[tuple[Any, ...]]]) -> None:
    decision = gate_on(tables)
    assert_diagnosed_without_crashing(decision)
    assert decision.branch is not Branch.TRAIN, decision.reasons
