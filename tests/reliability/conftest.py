"""Warehouses holding the train story: sound, so that every broken variant shows that the breakage,
not a quiet story, kept the gate from training."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator

import pandas as pd
import pytest
import sqlalchemy as sa

from airflow_retrain_gate.core import Branch
from airflow_retrain_gate.demo.loading import load_tables
from airflow_retrain_gate.demo.stories import build_story

from .gates import ROWS_PER_DAY, TRAIN_STORY, diagnose, train_policy

# Tests that build operators in this process need an Airflow home; tests/airflow/conftest.py sets its own.
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="retrain-gate-reliability-"))


@pytest.fixture(scope="session")
def train_frames() -> dict[str, pd.DataFrame]:
    """The tables of the train story, small enough for many variants (labels as floats, so NaN fits)."""
    frames = build_story(TRAIN_STORY, rows_per_day=ROWS_PER_DAY)
    frames["outcomes"]["outcome"] = frames["outcomes"]["outcome"].astype(float)
    return frames


@pytest.fixture(scope="module")
def sound_duckdb(tmp_path_factory: pytest.TempPathFactory, train_frames: dict[str, pd.DataFrame]) -> str:
    """A DuckDB file holding the train story as it is: its gate trains."""
    url = f"duckdb:///{tmp_path_factory.mktemp('sound') / 'warehouse.duckdb'}"
    load_tables(url, train_frames)
    assert diagnose(url, train_policy()).branch is Branch.TRAIN
    return url


@pytest.fixture(scope="module")
def train_schema(postgres_server: str, train_frames: dict[str, pd.DataFrame]) -> Iterator[str]:
    """A PostgreSQL schema holding the train story for one module's tests, dropped afterwards."""
    schema = f"rel_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(postgres_server)
    load_tables(engine, train_frames, schema=schema)
    yield schema
    with engine.begin() as connection:
        connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()
