"""A three-class model: the policy maps its classes, the warehouse profiles each class against the rest, and
the gate judges performance and concept drift per class (the stories of `demo.multiclass_world`)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from airflow_retrain_gate.core import Branch, Decision, Warehouse, parse_policy, run_gate
from airflow_retrain_gate.core.checks.multiclass import accuracy, log_loss, macro_auc
from airflow_retrain_gate.core.policy import PolicyError
from airflow_retrain_gate.core.profiling.multiclass import profile_classes
from airflow_retrain_gate.core.profiling.profiles import from_jsonable, to_jsonable
from airflow_retrain_gate.core.profiling.table_source import TableSource
from airflow_retrain_gate.core.stats import auc_from_bins
from airflow_retrain_gate.core.timeframes import TimeWindow
from airflow_retrain_gate.demo.loading import load_tables
from airflow_retrain_gate.demo.multiclass_world import (
    AS_OF,
    CLASSES,
    MULTICLASS_STORIES,
    build_multiclass_tables,
    multiclass_policy,
)


def diagnose(url: str, tables: dict[str, pd.DataFrame], form: str = "class_scores") -> Decision:
    """Load the tables into `url` and run the gate of a multiclass policy on them."""
    load_tables(url, tables)
    warehouse = Warehouse(url)
    try:
        return run_gate(parse_policy(multiclass_policy("test", form=form)), warehouse, AS_OF)
    finally:
        warehouse.dispose()


def assert_story(decision: Decision, story: str) -> None:
    """The decision takes the story's branch, decided by one of its checks, with no check in error."""
    expected = MULTICLASS_STORIES[story]
    assert decision.branch is Branch(expected.branch), decision.reasons
    if expected.deciding_checks:
        assert expected.deciding_checks & set(decision.deciding_checks), decision.reasons
    assert not [finding for finding in decision.findings if finding.status.value == "error"], decision.reasons


@pytest.mark.parametrize(
    ("seed", "magnitude", "form"),
    [
        (0, 2.0, "class_scores"),
        (1, 0.5, "class_scores"),
        (2, 0.5, "predicted_class"),
    ],
)
def test_one_class_drifting_trains_naming_the_class(
    duckdb_url: str, seed: int, magnitude: float, form: str
) -> None:
    story = "multiclass_concept_drift"
    decision = diagnose(duckdb_url, build_multiclass_tables(story, seed=seed, magnitude=magnitude), form)
    assert_story(decision, story)
    changed = CLASSES[seed % len(CLASSES)]
    deciding = [f for f in decision.findings if f.action.value == "train"]
    assert any(f"class {changed!r}" in f.subject and f"Class {changed!r}" in f.message for f in deciding), [
        f.message for f in deciding
    ]


@pytest.mark.parametrize(("seed", "form"), [(0, "class_scores"), (1, "predicted_class"), (2, "class_scores")])
def test_a_healthy_multiclass_model_skips(duckdb_url: str, seed: int, form: str) -> None:
    decision = diagnose(duckdb_url, build_multiclass_tables("multiclass_healthy", seed=seed), form)
    assert_story(decision, "multiclass_healthy")
    per_class = [f for f in decision.findings if f.check == "concept_drift"]
    assert sorted(f.evidence["class"] for f in per_class) == sorted(CLASSES)
    summary = next(f for f in decision.findings if f.check == "performance" and "class" not in f.evidence)
    assert summary.status.value == "pass" and "accuracy" in summary.message


@pytest.mark.postgres
def test_one_class_drifting_trains_on_postgresql(postgres_server: str, postgres_schema: str) -> None:
    story = "multiclass_concept_drift"
    load_tables(
        postgres_server, build_multiclass_tables(story, seed=1, rows_per_day=400), schema=postgres_schema
    )
    warehouse = Warehouse(postgres_server)
    try:
        policy = parse_policy(multiclass_policy("test", schema=postgres_schema))
        assert_story(run_gate(policy, warehouse, AS_OF), story)
    finally:
        warehouse.dispose()


def test_labels_outside_the_classes_are_broken_input(duckdb_url: str) -> None:
    tables = build_multiclass_tables("multiclass_healthy", seed=0)
    outcomes = tables["outcomes"]
    recent = outcomes["label_ts"] >= pd.Timestamp(AS_OF.replace(tzinfo=None)) - pd.Timedelta(days=5)
    outcomes.loc[recent & (outcomes["outcome"] == "fraud"), "outcome"] = "FRAUD"
    decision = diagnose(duckdb_url, tables)
    assert decision.branch is Branch.FIX_FEATURES, decision.reasons
    domain = next(f for f in decision.findings if f.check == "label_domain")
    assert "'FRAUD'" in domain.message and "none of the classes (legit, fraud, chargeback)" in domain.message


@pytest.fixture(scope="module")
def world() -> dict[str, pd.DataFrame]:
    return build_multiclass_tables("multiclass_healthy", seed=4, rows_per_day=200, days=10)


def _raw_window(world: dict[str, pd.DataFrame], window: TimeWindow) -> pd.DataFrame:
    """The window's predictions with the labels known by as_of, computed on the raw rows (what SQL must match)."""
    predictions, outcomes = world["predictions"], world["outcomes"]
    start, end = (pd.Timestamp(bound.replace(tzinfo=None)) for bound in (window.start, window.end))
    chosen = predictions[(predictions["event_ts"] >= start) & (predictions["event_ts"] < end)]
    known = outcomes[outcomes["label_ts"] <= pd.Timestamp(AS_OF.replace(tzinfo=None))]
    return chosen.merge(known, on="entity_id", how="inner")


@pytest.mark.parametrize("dialect", ["duckdb", "sqlite"])
def test_class_aggregates_match_the_raw_rows(
    world: dict[str, pd.DataFrame], dialect: str, duckdb_url: str, sqlite_url: str
) -> None:
    url = duckdb_url if dialect == "duckdb" else sqlite_url
    load_tables(url, world)
    policy = parse_policy(multiclass_policy("raw"))
    window = TimeWindow("current", AS_OF.replace(day=24, month=5), AS_OF)
    warehouse = Warehouse(url)
    try:
        predictions = TableSource.bind(warehouse, policy.tables.predictions, "tables.predictions")
        outcomes = TableSource.bind(warehouse, policy.tables.outcomes, "tables.outcomes")
        profile = profile_classes(predictions, outcomes, window, AS_OF, fine_bins=100)
    finally:
        warehouse.dispose()
    rows = _raw_window(world, window)
    scores = rows[[f"p_{name}" for name in CLASSES]].to_numpy()
    truth = rows["outcome"].map({name: index for index, name in enumerate(CLASSES)}).to_numpy()
    assert profile.total("in_classes") == len(rows)
    assert accuracy(profile) == pytest.approx(np.mean(scores.argmax(axis=1) == truth))
    true_scores = np.clip(scores[np.arange(len(rows)), truth], 1e-15, 1.0)
    assert log_loss(profile) == pytest.approx(float(np.mean(-np.log(true_scores))))
    aucs = []
    for index in range(len(CLASSES)):
        bins = np.minimum((scores[:, index] * 100).astype(int), 99) + 1
        positives = np.bincount(bins[truth == index], minlength=102)
        negatives = np.bincount(bins[truth != index], minlength=102)
        aucs.append(auc_from_bins(positives, negatives)[0])
    assert macro_auc(profile) == pytest.approx(sum(aucs) / len(aucs))
    assert math.isfinite(macro_auc(profile)) and 0.5 < macro_auc(profile) < 1.0
    assert from_jsonable(to_jsonable(profile)) == profile  # as the reference-profile cache stores it


def _policy(**changes: object) -> dict[str, object]:
    policy = multiclass_policy("checked")
    tables = policy["tables"]
    for path, value in changes.items():
        table, field = path.split("__")
        if value is None:
            tables[table].pop(field, None)
        else:
            tables[table][field] = value
    return policy


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        (
            {"predictions__class_scores": None},
            "outcomes.classes: a multiclass label needs predictions mapping",
        ),
        (
            {"outcomes__classes": None},
            "predictions.class_scores: list the label's values in outcomes.classes",
        ),
        ({"predictions__predicted_class": "predicted_class"}, "outcomes.classes: a multiclass label needs"),
        (
            {"predictions__class_scores": {"legit": "p_legit", "fraud": "p_fraud"}},
            "predictions.class_scores: no score column for class 'chargeback'",
        ),
        (
            {"predictions__class_scores": {**{n: f"p_{n}" for n in CLASSES}, "spam": "p_spam"}},
            "predictions.class_scores.spam: not one of outcomes.classes",
        ),
        (
            {"outcomes__classes": ["legit", "fraud", "legit"]},
            "tables.outcomes.classes: class 'legit' is listed twice",
        ),
        ({"outcomes__classes": ["legit"]}, "tables.outcomes.classes"),
    ],
)
def test_a_multiclass_mapping_that_does_not_fit_names_the_field(
    changes: dict[str, object], named: str
) -> None:
    with pytest.raises(PolicyError, match=named.replace("(", r"\(")):
        parse_policy(_policy(**changes))
