"""A broken score column or duplicate rows per key never train: each breakage of the train story, at several
magnitudes and seeds, ends in fix_features with a first reason naming the table, column or window."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa

from airflow_retrain_gate.core import Branch, Status
from airflow_retrain_gate.core.policy import TableMapping
from airflow_retrain_gate.demo.loading import load_tables
from airflow_retrain_gate.demo.stories import STORIES, build_story

from .broken_scores import CORPUS, Breakage
from .gates import ROWS_PER_DAY, TRAIN_STORY, diagnose, train_policy

SEEDS = (0, 1)
ON_POSTGRESQL = (
    "scores x100",
    "50% NULL scores",
    "scores frozen for 4 days",
    "20% of predictions rescored",
    "features window ingested twice",
)
MY_CHECKS = ("score_health", "duplicate_keys")


def prefix_of(case: Breakage, seed: int) -> str:
    """The table prefix of a case at a seed: its name as an identifier."""
    return f"s{seed}_" + re.sub(r"\W+", "_", case.name).strip("_")[:40] + "__"


def load_corpus(
    target: str, cases: tuple[Breakage, ...], seeds: tuple[int, ...], schema: str | None = None
) -> None:
    """The sound story per seed under `s<seed>__`, and each case's broken table under its own prefix."""
    engine = sa.create_engine(target)
    try:
        for seed in seeds:
            frames = build_story(TRAIN_STORY, seed=seed, rows_per_day=ROWS_PER_DAY)
            load_tables(engine, frames, prefix=f"s{seed}__", schema=schema)
            for index, case in enumerate(cases):
                broken = case.edit(frames[case.table].copy(), np.random.default_rng([seed, index]))
                load_tables(engine, {case.table: broken}, prefix=prefix_of(case, seed), schema=schema)
    finally:
        engine.dispose()


def case_policy(case: Breakage, seed: int, schema: str | None = None) -> dict[str, Any]:
    """The sound story's policy with the case's broken table in place of the sound one."""
    policy = train_policy(prefix=f"s{seed}__", schema=schema)
    policy["tables"][case.table]["table"] = train_policy(prefix_of(case, seed), schema)["tables"][case.table][
        "table"
    ]
    if case.policy:
        case.policy(policy)
    return policy


def assert_fixes_features(decision: Any, case: Breakage, policy: dict[str, Any]) -> None:
    """fix_features, never train; the first reason names the broken table (and column or window)."""
    mapping = policy["tables"][case.table]
    # Findings name a filtered table with its filters: predictions[model_name = 'fraud-scorer'].
    table = TableMapping(table=mapping["table"], filters=mapping.get("filters", {})).subject
    assert decision.branch is Branch.FIX_FEATURES, decision.reasons
    for fragment in case.names:
        assert fragment.format(table=table) in decision.reasons[0], decision.reasons
    assert any(case.cause in reason for reason in decision.reasons), decision.reasons


@pytest.fixture(scope="module")
def corpus_duckdb(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One DuckDB file: the sound story and every broken table, at each seed."""
    url = f"duckdb:///{tmp_path_factory.mktemp('broken_scores') / 'warehouse.duckdb'}"
    load_corpus(url, CORPUS, SEEDS)
    return url


@pytest.mark.parametrize("seed", SEEDS)
def test_sound_story_trains_and_its_scores_and_keys_pass(corpus_duckdb: str, seed: int) -> None:
    decision = diagnose(corpus_duckdb, train_policy(prefix=f"s{seed}__"))
    mine = [finding for finding in decision.findings if finding.check in MY_CHECKS]
    assert decision.branch is Branch.TRAIN, decision.reasons
    assert len(mine) == 6  # four score findings, one per keyed table
    assert all(finding.status is Status.PASS for finding in mine), [finding.message for finding in mine]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("case", CORPUS, ids=[case.name for case in CORPUS])
def test_broken_score_or_key_fixes_features(corpus_duckdb: str, case: Breakage, seed: int) -> None:
    policy = case_policy(case, seed)
    assert_fixes_features(diagnose(corpus_duckdb, policy), case, policy)


def test_features_without_a_key_say_duplicates_were_not_judged(corpus_duckdb: str) -> None:
    policy = train_policy(prefix="s0__")
    del policy["tables"]["features"]["entity"]
    decision = diagnose(corpus_duckdb, policy)
    table = policy["tables"]["features"]["table"]
    [finding] = [f for f in decision.findings if f.check == "duplicate_keys" and f.subject == table]
    assert finding.status is Status.INSUFFICIENT_DATA
    assert "map tables.features.entity or tables.features.key" in finding.message
    closing = decision.reasons[-1]
    assert closing.startswith("Not configured (") and (
        "map tables.features.entity or tables.features.key to use duplicate_keys" in closing
    ), decision.reasons
    assert decision.branch is Branch.TRAIN  # the entity is optional: its absence does not veto train


@pytest.mark.parametrize("seed", (0, 1, 2))
@pytest.mark.parametrize("story", sorted(STORIES))
def test_story_generator_writes_one_row_per_key(story: str, seed: int) -> None:
    frames = build_story(story, seed=seed, rows_per_day=100)
    for table in ("features", "predictions"):
        assert not frames[table].duplicated(["entity_id", "event_ts"]).any(), table


@pytest.fixture(scope="module")
def corpus_schema(postgres_server: str) -> Iterator[str]:
    """A PostgreSQL schema holding the sound story and a subset of the cases at seed 0, dropped afterwards."""
    schema = f"scores_{uuid.uuid4().hex[:10]}"
    load_corpus(postgres_server, tuple(case for case in CORPUS if case.name in ON_POSTGRESQL), (0,), schema)
    yield schema
    engine = sa.create_engine(postgres_server)
    with engine.begin() as connection:
        connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("name", ON_POSTGRESQL)
def test_broken_score_or_key_fixes_features_on_postgresql(
    postgres_server: str, corpus_schema: str, name: str
) -> None:
    case = next(case for case in CORPUS if case.name == name)
    policy = case_policy(case, 0, corpus_schema)
    assert_fixes_features(diagnose(postgres_server, policy), case, policy)
