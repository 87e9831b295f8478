"""A policy mistake is not a data problem: a column whose type never fitted the role the policy gives it is an
error on the policy field (on_error), while a column whose type changed since the cached reference profile is an
upstream schema change (fix_features)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

from airflow_retrain_gate.core import Branch, Decision, StateStore, Status, Warehouse, parse_policy, run_gate
from airflow_retrain_gate.demo.catalog import DEMO_AS_OF
from airflow_retrain_gate.demo.loading import load_tables

from .gates import train_policy

NUMERIC = ("tenure_score", "basket_value", "engagement_rate")


def _text_under_numeric(policy: dict[str, Any]) -> str:
    features = policy["tables"]["features"]
    features["categorical"].remove("query_intent")
    features["numeric"].append("query_intent")
    return "tables.features.numeric[3]: column 'query_intent' of table '{t}features' is VARCHAR; the policy uses it as a number"


def _integer_as_timestamp(policy: dict[str, Any]) -> str:
    policy["tables"]["features"]["timestamp"] = "entity_id"
    return "tables.features.timestamp: column 'entity_id' of table '{t}features' is BIGINT; the policy uses it as a timestamp"


MISTAKES: dict[str, Callable[[dict[str, Any]], str]] = {
    "a text column under numeric": _text_under_numeric,
    "an integer column as the timestamp": _integer_as_timestamp,
}
"""Policy edits that give a column a role its type never fitted; each returns the error it must get."""


def gate(url: str, policy: dict[str, Any], state: StateStore | None = None) -> Decision:
    """One gate run of `policy` at the demo's as_of, with the reference-profile cache in `state` if given."""
    return run_gate(parse_policy(policy), Warehouse(url), DEMO_AS_OF, state=state)


def schema_findings(decision: Decision) -> list[tuple[Status, str]]:
    """Status and message of each schema finding that is not a pass."""
    return [
        (f.status, f.message)
        for f in decision.findings
        if f.check == "schema" and f.status is not Status.PASS
    ]


@pytest.fixture(scope="module")
def role_warehouse(tmp_path_factory: pytest.TempPathFactory, train_frames: dict[str, pd.DataFrame]) -> str:
    """The train story once as it is, and once per numeric column under `<column>__` (altered by the tests)."""
    url = f"duckdb:///{tmp_path_factory.mktemp('roles') / 'warehouse.duckdb'}"
    engine = sa.create_engine(url)
    load_tables(engine, train_frames)
    for column in NUMERIC:
        load_tables(engine, train_frames, prefix=f"{column}__")
    engine.dispose()
    return url


@pytest.mark.parametrize("on_error", ["alert", "fix_features", "skip"])
@pytest.mark.parametrize("mistake", list(MISTAKES), ids=list(MISTAKES))
def test_a_role_the_column_never_fitted_is_a_policy_error(
    role_warehouse: str, mistake: str, on_error: str
) -> None:
    policy = train_policy() | {"on_error": on_error}
    error = MISTAKES[mistake](policy).format(t="")
    decision = gate(role_warehouse, policy)
    assert decision.branch is Branch(on_error)
    [(status, message)] = schema_findings(decision)
    assert status is Status.ERROR and message.startswith(error), message
    assert "upstream" not in message and any(error in reason for reason in decision.reasons)


@pytest.mark.parametrize("column", NUMERIC)
def test_a_numeric_column_turned_text_since_the_cached_reference_is_an_upstream_change(
    role_warehouse: str, tmp_path: Path, column: str
) -> None:
    policy = train_policy(prefix=f"{column}__")
    state = StateStore(f"sqlite:///{tmp_path / 'state.sqlite'}")
    assert gate(role_warehouse, policy, state).branch is Branch.TRAIN  # caches the reference profile
    engine = sa.create_engine(role_warehouse)
    with engine.begin() as connection:
        connection.exec_driver_sql(f"ALTER TABLE {column}__features ALTER {column} TYPE VARCHAR")
    engine.dispose()

    changed = gate(role_warehouse, policy, state)
    assert changed.branch is Branch.FIX_FEATURES
    [(status, message)] = schema_findings(changed)
    assert status is Status.FAIL
    assert message == (
        f"Column {column}__features.{column} changed type from DOUBLE to VARCHAR since the reference profile was "
        f"taken, but the policy uses it as a number (tables.features.numeric[{NUMERIC.index(column)}]): the upstream "
        "schema changed."
    )
    assert changed.reasons[0] == message

    # Without the cached profile nothing records the column as a number: the gate can only say the mapping is wrong.
    unrecorded = gate(role_warehouse, policy)
    assert unrecorded.branch is Branch.ALERT
    [(status, message)] = schema_findings(unrecorded)
    assert status is Status.ERROR and "list it under categorical or fix the mapping" in message


def test_a_sound_warehouse_with_a_cached_reference_still_trains(role_warehouse: str, tmp_path: Path) -> None:
    state = StateStore(f"sqlite:///{tmp_path / 'state.sqlite'}")
    for _ in range(2):  # profiled, then read from the cache
        decision = gate(role_warehouse, train_policy(), state)
        assert decision.branch is Branch.TRAIN and schema_findings(decision) == []
    assert decision.notes["profile_cache"]["misses"] == 0


@pytest.mark.postgres
def test_roles_on_postgresql(
    postgres_server: str, postgres_schema: str, train_frames: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    load_tables(postgres_server, train_frames, schema=postgres_schema)
    mistaken = train_policy(schema=postgres_schema)
    error = _text_under_numeric(mistaken).format(t=f"{postgres_schema}.").replace("VARCHAR", "TEXT")
    decision = gate(postgres_server, mistaken)
    assert decision.branch is Branch.ALERT
    assert schema_findings(decision)[0][1].startswith(error)

    policy = train_policy(schema=postgres_schema)
    state = StateStore(f"sqlite:///{tmp_path / 'state.sqlite'}")
    assert gate(postgres_server, policy, state).branch is Branch.TRAIN
    engine = sa.create_engine(postgres_server)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            f'ALTER TABLE "{postgres_schema}".features ALTER basket_value TYPE text USING basket_value::text'
        )
    engine.dispose()
    changed = gate(postgres_server, policy, state)
    assert changed.branch is Branch.FIX_FEATURES
    assert "changed type from DOUBLE PRECISION to TEXT" in changed.reasons[0]
