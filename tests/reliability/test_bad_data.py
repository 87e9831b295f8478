"""Bad warehouse data never trains: each broken variant of the train story gets a finding that names it."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from airflow_retrain_gate.core import Branch, Decision, Status, Warehouse
from airflow_retrain_gate.demo.loading import load_tables

from .bad_data import CORPUS, BadData, Outcome
from .gates import diagnose, train_policy


def prefix_of(case: BadData) -> str:
    """The table prefix of a case: its name as an identifier."""
    return re.sub(r"\W+", "_", case.name).strip("_")[:40] + "__"


@pytest.fixture(scope="module")
def broken_warehouse(tmp_path_factory: pytest.TempPathFactory, train_frames: dict[str, pd.DataFrame]) -> str:
    """One DuckDB file with every case's broken tables under the case's prefix, and a `victim` table."""
    url = f"duckdb:///{tmp_path_factory.mktemp('corpus') / 'warehouse.duckdb'}"
    engine = sa.create_engine(url)
    load_tables(engine, {"victim": pd.DataFrame({"x": [1]})})
    for case in CORPUS:
        frames = {name: frame.copy() for name, frame in train_frames.items()}
        if case.frames:
            case.frames(frames)
        load_tables(engine, frames, prefix=prefix_of(case))
        if case.sql:
            with engine.begin() as connection:
                connection.exec_driver_sql(case.sql.format(t=prefix_of(case)))
    engine.dispose()
    return url


@pytest.mark.parametrize("case", CORPUS, ids=[case.name for case in CORPUS])
def test_bad_data_is_named_and_never_trains(broken_warehouse: str, case: BadData) -> None:
    policy = train_policy(prefix=prefix_of(case))
    if case.policy:
        case.policy(policy)
    decision = diagnose(Warehouse(broken_warehouse), policy, case.as_of or "2024-06-01T00:00:00Z")
    says = case.says.format(t=prefix_of(case))

    assert decision.branch is not Branch.TRAIN
    if case.outcome is Outcome.ON_ERROR:
        errors = [f.message for f in decision.findings if f.status is Status.ERROR]
        assert any(says in message for message in errors), errors
        assert decision.branch in (Branch(policy["on_error"]), Branch.FIX_FEATURES)
    elif case.outcome is Outcome.FIX_FEATURES:
        assert decision.branch is Branch.FIX_FEATURES
        assert any(says in reason for reason in decision.reasons), decision.reasons
    else:
        unjudged = [f.message for f in decision.findings if f.status is Status.INSUFFICIENT_DATA]
        assert any(says in message for message in unjudged), unjudged
        assert any(reason.startswith("Not decided") and says in reason for reason in decision.reasons)
    with sa.create_engine(broken_warehouse).connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM victim")).scalar() == 1  # no SQL ran


def verdicts(decision: Decision, digits: int = 9) -> list[tuple[object, ...]]:
    """What each finding concluded: check, subject, status, message and value (rounded)."""
    return [
        (f.check, f.subject, f.status, f.message, None if f.value is None else round(f.value, digits))
        for f in decision.findings
    ]


def with_aware_timestamps(frames: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The same instants as timezone-aware columns in New York time (TIMESTAMPTZ in the warehouse)."""
    aware = {name: frame.copy() for name, frame in frames.items()}
    for frame in aware.values():
        for column in frame.columns:
            if pd.api.types.is_datetime64_dtype(frame[column]):
                frame[column] = frame[column].dt.tz_localize("UTC").dt.tz_convert("America/New_York")
    return aware


@pytest.mark.parametrize(
    "as_of",
    ["2024-06-01T00:00:00", "2024-06-01", "2024-06-01T02:00:00+02:00", "2024-05-31T20:00:00-04:00"],
    ids=["naive", "date", "UTC+2", "New York"],
)
def test_naive_and_aware_timestamps_decide_alike(
    tmp_path: Path, train_frames: dict[str, pd.DataFrame], sound_duckdb: str, as_of: str
) -> None:
    aware = f"duckdb:///{tmp_path / 'aware.duckdb'}"
    load_tables(aware, with_aware_timestamps(train_frames))
    expected = diagnose(sound_duckdb, train_policy())
    decision = diagnose(aware, train_policy(), as_of)
    assert decision.branch is Branch.TRAIN
    assert verdicts(decision) == verdicts(expected)


@pytest.mark.postgres
def test_naive_and_aware_timestamps_decide_alike_on_postgresql(
    postgres_schema: str, postgres_server: str, train_frames: dict[str, pd.DataFrame], sound_duckdb: str
) -> None:
    load_tables(postgres_server, with_aware_timestamps(train_frames), schema=postgres_schema)
    expected = diagnose(sound_duckdb, train_policy())
    decision = diagnose(postgres_server, train_policy(schema=postgres_schema), "2024-05-31T20:00:00-04:00")
    assert decision.branch is Branch.TRAIN
    assert [verdict[:1] + verdict[2:3] + verdict[4:] for verdict in verdicts(decision, 6)] == [
        verdict[:1] + verdict[2:3] + verdict[4:] for verdict in verdicts(expected, 6)
    ]
