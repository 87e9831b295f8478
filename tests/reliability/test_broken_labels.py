"""Broken labels and scores never train: each variant ends in fix_features with a one-line reason naming the
label column, the label timestamp or the score; sound variants keep their branches without a false alarm."""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Iterator

import pandas as pd
import pytest
import sqlalchemy as sa

from airflow_retrain_gate.core import Branch, Decision, Status, Warehouse
from airflow_retrain_gate.demo.loading import load_tables
from airflow_retrain_gate.demo.stories import build_story, story_policy

from .broken_labels import BROKEN, SOUND, LabelCase
from .gates import ROWS_PER_DAY, diagnose

LABEL_CHECKS = ("label_domain", "label_timing", "score_inversion")
RANGES = {"current_auc": (0.0, 1.0), "expected_auc": (0.0, 1.0), "reference_auc": (0.0, 1.0)}
POSTGRES_CASES = (
    "0 -> -1, all",
    "1 -> 1e300, 1%",
    "soft 0.5, 30%",
    "amount x100",
    "early labels, 20%",
    "inverted, all",
)
SQLITE_CASES = ("soft 0.5, 30%", "counts + 0.5, all", "early labels, 20%")


def prefix_of(case: LabelCase) -> str:
    """The table prefix of a case: its name as an identifier."""
    return re.sub(r"\W+", "_", case.name).strip("_")[:40] + "__"


@functools.cache
def story_frames(story: str, seed: int) -> dict[str, pd.DataFrame]:
    """A story's tables at a seed, built once per module run (cases copy them before editing)."""
    return build_story(story, seed=seed, rows_per_day=ROWS_PER_DAY)


def frames_of(case: LabelCase) -> dict[str, pd.DataFrame]:
    """The case's story at its seed, edited (labels as floats, so any value fits)."""
    frames = {name: frame.copy() for name, frame in story_frames(case.story, case.seed).items()}
    frames["outcomes"]["outcome"] = frames["outcomes"]["outcome"].astype(float)
    if case.edit:
        case.edit(frames)
    return frames


def policy_of(case: LabelCase, schema: str | None = None) -> dict[str, object]:
    """The story's policy over the case's tables."""
    return story_policy(case.story, prefix=prefix_of(case), schema=schema)


@pytest.fixture(scope="module")
def labels_duckdb(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One DuckDB file with every case's tables under the case's prefix."""
    url = f"duckdb:///{tmp_path_factory.mktemp('labels') / 'warehouse.duckdb'}"
    engine = sa.create_engine(url)
    for case in (*BROKEN, *SOUND):
        load_tables(engine, frames_of(case), prefix=prefix_of(case))
    engine.dispose()
    return url


@pytest.fixture(scope="module")
def labels_postgres(postgres_server: str) -> Iterator[str]:
    """A PostgreSQL schema with the tables of the POSTGRES_CASES and the boolean-label case."""
    schema = f"labels_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(postgres_server)
    for case in (*cases(POSTGRES_CASES), *[case for case in SOUND if case.name == "boolean labels"]):
        load_tables(engine, frames_of(case), prefix=prefix_of(case), schema=schema)
    yield schema
    with engine.begin() as connection:
        connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


def cases(names: tuple[str, ...]) -> list[LabelCase]:
    """The broken cases called `names`."""
    return [case for case in BROKEN if case.name in names]


def assert_broken_input_named(decision: Decision, case: LabelCase) -> None:
    """Never train: fix_features, decided first by the case's check with a one-line reason naming the cause."""
    assert decision.branch is Branch.FIX_FEATURES, decision.reasons
    first = decision.reasons[0]
    assert case.says in first and "\n" not in first, decision.reasons
    assert decision.deciding_findings[0].check == case.check
    assert prefix_of(case) in decision.deciding_findings[0].subject
    for finding in decision.findings:  # a metric outside its range is never reported as evidence
        for key, (low, high) in RANGES.items():
            value = finding.evidence.get(key)
            assert value is None or low <= value <= high, (finding.check, key, value)


def assert_sound(decision: Decision, case: LabelCase) -> None:
    """The label and score checks pass or cannot judge; label_domain passes; the story keeps its branch."""
    verdicts = {f.check: f.status for f in decision.findings if f.check in LABEL_CHECKS}
    assert set(verdicts) == set(LABEL_CHECKS)
    assert verdicts["label_domain"] is Status.PASS, decision.findings
    assert all(status in (Status.PASS, Status.INSUFFICIENT_DATA) for status in verdicts.values()), verdicts
    if case.branch is not None:
        assert decision.branch is Branch(case.branch), decision.reasons


@pytest.mark.parametrize("case", BROKEN, ids=[case.name for case in BROKEN])
def test_broken_labels_never_train(labels_duckdb: str, case: LabelCase) -> None:
    assert_broken_input_named(diagnose(Warehouse(labels_duckdb), policy_of(case)), case)


@pytest.mark.parametrize("case", SOUND, ids=[case.name for case in SOUND])
def test_sound_labels_raise_no_alarm(labels_duckdb: str, case: LabelCase) -> None:
    assert_sound(diagnose(Warehouse(labels_duckdb), policy_of(case)), case)


@pytest.mark.postgres
def test_broken_labels_on_postgresql(postgres_server: str, labels_postgres: str) -> None:
    warehouse = Warehouse(postgres_server)
    for case in cases(POSTGRES_CASES):
        assert_broken_input_named(diagnose(warehouse, policy_of(case, labels_postgres)), case)
    boolean = next(case for case in SOUND if case.name == "boolean labels")
    assert_sound(diagnose(warehouse, policy_of(boolean, labels_postgres)), boolean)


def test_broken_labels_on_sqlite(sqlite_url: str) -> None:
    engine = sa.create_engine(sqlite_url)
    for case in cases(SQLITE_CASES):
        load_tables(engine, frames_of(case), prefix=prefix_of(case))
    engine.dispose()
    warehouse = Warehouse(sqlite_url)
    for case in cases(SQLITE_CASES):
        assert_broken_input_named(diagnose(warehouse, policy_of(case)), case)
