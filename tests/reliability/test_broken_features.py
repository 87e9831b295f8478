"""Features the gate cannot trust or judge, and filters that select nothing, never train (DuckDB and PostgreSQL).

Per seed, one warehouse holds the train story's tables and one broken features table per case; every gate
reads the sound predictions and outcomes, so concept drift still asks for `train` and only the broken input
can stop it.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from airflow_retrain_gate.core import Branch, Decision, Status, Warehouse
from airflow_retrain_gate.demo.loading import load_tables
from airflow_retrain_gate.demo.stories import build_story

from .broken_features import CORPUS, BrokenFeatures
from .gates import ROWS_PER_DAY, TRAIN_STORY, diagnose, train_policy

SEEDS = (0, 1)
ON_POSTGRESQL = (
    "-1e+300 in 20% of current basket_value",
    "feed thinned to 2 rows a day, on_error: fix_features",
    "every row stamped 2024-05-31 12:00",
    "no feature rows in the reference window",
    "filter typo on predictions: {'model_name': 'frod-scorer'}, on_error: alert",
)


def story(seed: int) -> dict[str, pd.DataFrame]:
    """The train story at `seed`; outcomes carry a `source` column for filters to select on."""
    frames = build_story(TRAIN_STORY, seed=seed, rows_per_day=ROWS_PER_DAY)
    frames["outcomes"]["outcome"] = frames["outcomes"]["outcome"].astype(float)
    frames["outcomes"]["source"] = "crm"
    return frames


def case_prefix(seed: int, case: BrokenFeatures) -> str:
    """Where a case's features table lives: `s<seed>_<case>__features`."""
    return f"s{seed}_" + re.sub(r"\W+", "_", case.name).strip("_")[:40] + "__"


def load_corpus(
    engine: sa.Engine, seed: int, cases: tuple[BrokenFeatures, ...], schema: str | None = None
) -> None:
    """The sound story under `s<seed>__`, and each case's broken features table under its own prefix."""
    frames = story(seed)
    load_tables(engine, frames, prefix=f"s{seed}__", schema=schema)
    for index, case in enumerate(cases):
        if case.features is not None:
            rng = np.random.default_rng([seed, index])
            broken = case.features(frames["features"].copy(), rng)
            load_tables(engine, {"features": broken}, prefix=case_prefix(seed, case), schema=schema)


def run_case(
    url: str, seed: int, case: BrokenFeatures, schema: str | None = None
) -> tuple[Decision, dict[str, str]]:
    """The gate on the sound story with the case's features table and policy edits."""
    policy = train_policy(prefix=f"s{seed}__", schema=schema)
    if case.features is not None:
        table = f"{case_prefix(seed, case)}features"
        policy["tables"]["features"]["table"] = f"{schema}.{table}" if schema else table
    policy["on_error"] = case.on_error
    if case.policy is not None:
        case.policy(policy)
    names = {
        section: policy["tables"][section]["table"] for section in ("features", "predictions", "outcomes")
    }
    return diagnose(Warehouse(url), policy), names


def assert_named_and_not_trained(decision: Decision, case: BrokenFeatures, names: dict[str, str]) -> None:
    """Never train; the expected branch; the first reason names the cause; no non-finite statistic passes."""
    assert decision.branch is not Branch.TRAIN
    assert decision.branch is case.branch, decision.reasons
    first = decision.reasons[0]
    for fragment in case.first_reason:
        for section, table in names.items():
            fragment = fragment.replace("{" + section + "}", table)
        assert fragment in first, decision.reasons
    if case.also_says:
        assert any(case.also_says in reason for reason in decision.reasons), decision.reasons
    judged = [f for f in decision.findings if f.status in (Status.PASS, Status.WARN) and f.value is not None]
    assert all(math.isfinite(f.value) for f in judged), [(f.check, f.subject, f.value) for f in judged]


@pytest.fixture(scope="module")
def corpus_duckdb(tmp_path_factory: pytest.TempPathFactory) -> dict[int, str]:
    """Per seed, a DuckDB file with the sound story (its gate trains) and every case's features table."""
    urls = {}
    for seed in SEEDS:
        url = f"duckdb:///{tmp_path_factory.mktemp(f'broken{seed}') / 'warehouse.duckdb'}"
        engine = sa.create_engine(url)
        load_corpus(engine, seed, CORPUS)  # every table, so that case and table prefixes agree
        engine.dispose()
        assert diagnose(url, train_policy(prefix=f"s{seed}__")).branch is Branch.TRAIN
        urls[seed] = url
    return urls


RUNS = [(seed, case) for seed in SEEDS for index, case in enumerate(CORPUS) if seed == 0 or index % 3 == 1]
"""Every case at seed 0, every third at seed 1: each class runs at both seeds, in about a minute."""


@pytest.mark.parametrize(("seed", "case"), RUNS, ids=[f"{case.name}-{seed}" for seed, case in RUNS])
def test_broken_features_never_train_and_are_named(
    corpus_duckdb: dict[int, str], seed: int, case: BrokenFeatures
) -> None:
    decision, names = run_case(corpus_duckdb[seed], seed, case)
    assert_named_and_not_trained(decision, case, names)


POSTGRES_CASES = tuple(case for case in CORPUS if case.name in ON_POSTGRESQL)


@pytest.fixture(scope="module")
def corpus_postgres(postgres_server: str) -> Iterator[str]:
    """A PostgreSQL schema with the sound story at seed 0 and the PostgreSQL cases' features tables."""
    assert len(POSTGRES_CASES) == len(ON_POSTGRESQL)
    schema = f"broken_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(postgres_server)
    load_corpus(engine, 0, POSTGRES_CASES, schema=schema)
    assert diagnose(postgres_server, train_policy(prefix="s0__", schema=schema)).branch is Branch.TRAIN
    yield schema
    with engine.begin() as connection:
        connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("case", POSTGRES_CASES, ids=[case.name for case in POSTGRES_CASES])
def test_broken_features_on_postgresql(
    postgres_server: str, corpus_postgres: str, case: BrokenFeatures
) -> None:
    decision, names = run_case(postgres_server, 0, case, schema=corpus_postgres)
    assert_named_and_not_trained(decision, case, names)
