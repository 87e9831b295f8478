"""The decision log on DuckDB, SQLite and PostgreSQL: idempotent records, reviews, history, migrations."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from airflow_retrain_gate.core import (
    Decision,
    DecisionLog,
    LogQuery,
    RunKey,
    StateStore,
    Warehouse,
    parse_policy,
    run_gate,
)
from airflow_retrain_gate.core.state import MIGRATIONS, SUMMARY_COLUMNS
from airflow_retrain_gate.demo.catalog import DEMO_AS_OF, build_demo_warehouse


@pytest.fixture(scope="module")
def decisions(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Decision]:
    """Real decisions of three demo stories: skip, fix_features and train."""
    url = f"duckdb:///{tmp_path_factory.mktemp('demo') / 'warehouse.duckdb'}"
    policies = build_demo_warehouse(url, ["healthy", "dead_signal", "concept_drift"], rows_per_day=300)
    return {
        name: run_gate(parse_policy(policy), Warehouse(url), DEMO_AS_OF) for name, policy in policies.items()
    }


@pytest.fixture(params=["duckdb", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def state(request: pytest.FixtureRequest, tmp_path: Path) -> StateStore:
    """An empty state database of each supported dialect."""
    if request.param == "postgres":
        return StateStore(
            request.getfixturevalue("postgres_server"), schema=request.getfixturevalue("postgres_schema")
        )
    suffix = "duckdb" if request.param == "duckdb" else "sqlite"
    return StateStore(f"{request.param}:///{tmp_path / f'state.{suffix}'}")


def test_a_retry_replaces_its_row_and_the_review_of_the_earlier_try(
    state: StateStore, decisions: dict[str, Decision]
) -> None:
    log = DecisionLog(state)
    key = RunKey("fraud_scorer", "scheduled__2024-06-01", "gate")
    log.record(key, decisions["concept_drift"], try_number=1)
    assert log.record_review(key, "skip", "alice", "labels of the last week are still maturing")
    assert log.get(key).entry.effective_branch == "skip"

    log.record(key, decisions["concept_drift"], try_number=2)

    logged = log.get(key)
    assert log.count() == 1
    assert logged.entry.try_number == 2
    assert logged.entry.review is None
    assert logged.decision.to_dict() == decisions["concept_drift"].to_dict()


def test_a_review_is_stored_with_reviewer_comment_and_time(
    state: StateStore, decisions: dict[str, Decision]
) -> None:
    log = DecisionLog(state)
    key = RunKey("fraud_scorer", "scheduled__2024-06-01", "gate", map_index=3)
    log.record(key, decisions["concept_drift"])

    assert log.record_review(key, "alert", "bob", "a deploy on Friday changed the scorer")
    assert not log.record_review(RunKey("fraud_scorer", "unknown", "gate"), "train", "bob", None)

    entry = log.get(key).entry
    assert (entry.branch, entry.effective_branch) == ("train", "alert")
    assert (entry.review.by, entry.review.comment) == ("bob", "a deploy on Friday changed the scorer")
    assert entry.review.at > datetime.now(UTC) - timedelta(minutes=1)


def test_history_lists_newest_first_with_filters_and_pages(
    state: StateStore, decisions: dict[str, Decision]
) -> None:
    log = DecisionLog(state)
    stories = ["healthy", "dead_signal", "concept_drift"]
    for day in range(6):
        story = stories[day % 3]
        decision = replace(decisions[story], as_of=DEMO_AS_OF + timedelta(days=day))
        log.record(RunKey(f"dag_{day % 2}", f"run_{day}", "gate"), decision)

    newest = log.history(limit=4)
    assert [entry.key.run_id for entry in newest] == ["run_5", "run_4", "run_3", "run_2"]
    assert [entry.key.run_id for entry in log.history(limit=4, offset=4)] == ["run_1", "run_0"]
    assert newest[0].deciding_checks == ("concept_drift", "residual_drift")
    assert newest[0].headline == decisions["concept_drift"].reasons[0]

    assert [entry.key.run_id for entry in log.history(LogQuery(dag_ids=["dag_1"]))] == [
        "run_5",
        "run_3",
        "run_1",
    ]
    assert [entry.key.run_id for entry in log.history(LogQuery(branch="fix_features"))] == ["run_4", "run_1"]
    window = {"since": DEMO_AS_OF + timedelta(days=2), "until": DEMO_AS_OF + timedelta(days=4)}
    assert [entry.key.run_id for entry in log.history(LogQuery(**window))] == ["run_3", "run_2"]
    assert log.count(LogQuery(dag_ids=["dag_0"], branch="skip")) == 1
    assert log.history(LogQuery(dag_ids=[])) == [] and log.count(LogQuery(dag_ids=[])) == 0
    assert [entry.key.task_id for entry in log.history(LogQuery(run_id="run_4"))] == ["gate"]
    assert log.logged_dag_ids() == ["dag_0", "dag_1"]


def test_the_cooldown_sees_a_reviewers_train(state: StateStore, decisions: dict[str, Decision]) -> None:
    log = DecisionLog(state)
    key = RunKey("fraud_scorer", "run_1", "gate")
    log.record(key, decisions["dead_signal"])
    assert log.last_train_before("demo-dead_signal", DEMO_AS_OF + timedelta(days=1)) is None

    log.record_review(key, "train", "alice", "the column was fixed upstream; retrain now")

    assert log.last_train_before("demo-dead_signal", DEMO_AS_OF + timedelta(days=1)) == DEMO_AS_OF


def test_a_version_1_log_is_migrated_and_its_rows_summarised(
    state: StateStore, decisions: dict[str, Decision]
) -> None:
    decision = decisions["dead_signal"]
    install_version_1_with_a_row(state, decision)
    assert not set(SUMMARY_COLUMNS) & logged_columns(state)

    log = DecisionLog(StateStore(state.engine, schema=state.schema))

    assert [entry.deciding_checks for entry in log.history()] == [("dead_signal",)]
    assert log.history()[0].headline == decision.reasons[0]
    assert log.state.version() == MIGRATIONS[-1][0]
    assert logged_columns(state) == {column.name for column in state.tables["decisions"].c}


def test_a_new_log_has_every_declared_column(state: StateStore) -> None:
    state.migrate()

    assert logged_columns(state) == {column.name for column in state.tables["decisions"].c}


def logged_columns(state: StateStore) -> set[str]:
    """The columns the database's decision log has (from an empty result: duckdb-engine cannot reflect)."""
    with state.engine.connect() as connection:
        return set(
            connection.execute(
                sa.select(sa.text("*")).select_from(state.tables["decisions"]).where(sa.false())
            ).keys()
        )


def test_migrating_twice_changes_nothing(state: StateStore, decisions: dict[str, Decision]) -> None:
    DecisionLog(state).record(RunKey("dag", "run", "gate"), decisions["healthy"])

    again = StateStore(state.engine, schema=state.schema)

    assert again.migrate() == MIGRATIONS[-1][0]
    assert DecisionLog(again).count() == 1


def install_version_1_with_a_row(state: StateStore, decision: Decision) -> None:
    """What a release with only migration 1 left behind: its tables (a decision log without the summary
    columns), version 1, one logged decision."""
    version, description, _ = MIGRATIONS[0]
    now = datetime.now(UTC)
    decisions = state.tables["decisions"]
    version_1_decisions = sa.Table(
        decisions.name,
        sa.MetaData(schema=state.schema),
        *(
            sa.Column(column.name, column.type, primary_key=column.primary_key, nullable=column.nullable)
            for column in decisions.c
            if column.name not in SUMMARY_COLUMNS
        ),
    )
    with state.engine.begin() as connection:
        if state.schema:
            connection.execute(sa.schema.CreateSchema(state.schema, if_not_exists=True))
        state.tables["version"].create(connection)
        state.tables["cache"].create(connection)
        version_1_decisions.create(connection)
        connection.execute(
            state.tables["version"].insert().values(version=version, applied_at=now, description=description)
        )
        connection.execute(
            version_1_decisions.insert().values(
                dag_id="fraud_scorer",
                run_id="run_1",
                task_id="gate",
                map_index=-1,
                policy_name=decision.policy_name,
                policy_sha256=decision.policy_sha256,
                branch=decision.branch.value,
                as_of=decision.as_of,
                started_at=decision.started_at,
                duration_s=decision.duration_s,
                decision_json=json.dumps(decision.to_dict()),
                try_number=1,
                created_at=now,
                updated_at=now,
            )
        )
