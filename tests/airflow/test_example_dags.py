"""Every example DAG under real Airflow: the gate takes the branch its story calls for, the other branches are
skipped, and the decision is in XCom, the decision log, Rendered Templates, the extra link and, on train only,
an asset event."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import sqlalchemy as sa
from airflow_env import REPO

from airflow_retrain_gate.core import DecisionLog, RunKey, StateStore
from airflow_retrain_gate.demo.airflow_demo import DagRunSummary
from airflow_retrain_gate.demo.provision import demo_home
from airflow_retrain_gate.demo.stories import STORIES

pytestmark = pytest.mark.airflow

BRANCH_TASKS = ("fix_features", "alert", "train")


def test_example_dags_import_without_errors_or_warnings(airflow_db: Path) -> None:
    from airflow.dag_processing.dagbag import DagBag

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning raised while our files import fails the import
        bag = DagBag(str(REPO / "dags_examples"))
    assert bag.import_errors == {}
    assert bag.captured_warnings == {}
    assert {f"retrain_gate_{name}" for name in STORIES} <= set(bag.dags)
    assert {"retrain_gate_platform_policy", "retrain_gate_quickstart", "train_fraud_scorer_on_demand"} <= set(
        bag.dags
    )


@pytest.mark.parametrize("story", STORIES.values(), ids=list(STORIES))
def test_each_story_dag_takes_its_branch_and_skips_the_others(
    example_runs: dict[str, DagRunSummary], story
) -> None:
    run = example_runs[f"retrain_gate_{story.name}"]

    assert run.state == "success"
    decision = run.decisions["retrain_gate"]
    assert decision["branch"] == story.branch
    if story.deciding_check:
        assert decision["deciding_checks"][0] == story.deciding_check
    for task in BRANCH_TASKS:
        assert run.task_states[task] == ("success" if task == story.branch else "skipped")


def test_late_features_make_the_sensor_give_up_and_the_gate_still_say_fix_features(
    example_runs: dict[str, DagRunSummary],
) -> None:
    run = example_runs["retrain_gate_pipeline_lag"]

    # The deferrable sensor waited in its trigger until its deadline, resumed and was skipped (soft_fail).
    assert run.task_states["wait_for_features"] == "skipped"
    assert run.task_states["wait_for_labels"] == "success"
    assert run.task_states["retrain_gate"] == "success"
    assert run.decisions["retrain_gate"]["deciding_checks"][0] == "freshness"


def test_one_platform_policy_gives_each_model_its_own_branch(example_runs: dict[str, DagRunSummary]) -> None:
    run = example_runs["retrain_gate_platform_policy"]
    expected = {"fraud-eu": "skip", "fraud-us": "train", "fraud-apac": "fix_features", "fraud-latam": "alert"}

    assert run.state == "success"
    branches = {decision["policy_name"]: decision["branch"] for decision in run.decisions.values()}
    assert branches == expected
    for index, branch in enumerate(expected.values()):
        for task in BRANCH_TASKS:
            assert run.task_states[f"{task}[{index}]"] == ("success" if task == branch else "skipped"), (
                task,
                index,
            )
    platform_hash = {decision["policy_sha256"] for decision in run.decisions.values()}
    assert len(platform_hash) == len(expected)  # same platform policy, each model's own tables


def test_quickstart_follows_the_operator_and_policy_branch_mappings(
    example_runs: dict[str, DagRunSummary],
) -> None:
    run = example_runs["retrain_gate_quickstart"]

    assert run.decisions["retrain_gate"]["branch"] == "train"
    assert run.task_states == {
        "load_features": "success",
        "retrain_gate": "success",
        "train_model": "success",
        "open_feature_ticket": "skipped",
        "page_oncall": "skipped",
    }


def test_asset_events_are_emitted_only_for_train_decisions(example_runs: dict[str, DagRunSummary]) -> None:
    from airflow.models.asset import AssetDagRunQueue, AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.execute(
            sa.select(AssetModel.name, AssetEvent.source_dag_id, AssetEvent.extra).join(
                AssetEvent, AssetEvent.asset_id == AssetModel.id
            )
        ).all()
        queued = session.scalars(
            sa.select(AssetDagRunQueue.target_dag_id).join(
                AssetModel, AssetModel.id == AssetDagRunQueue.asset_id
            )
        ).all()
    gate_events = {(name, dag_id) for name, dag_id, _ in rows if name.startswith("retrain-gate/")}
    train_decisions = {
        (f"retrain-gate/{decision['policy_name']}", dag_id)
        for dag_id, run in example_runs.items()
        for decision in run.decisions.values()
        if decision["branch"] == "train"
    }

    assert gate_events == train_decisions
    assert {
        ("retrain-gate/demo-concept_drift", "retrain_gate_concept_drift"),
        ("retrain-gate/fraud-us", "retrain_gate_platform_policy"),
        ("retrain-gate/fraud-scorer", "retrain_gate_quickstart"),
    } <= gate_events
    extra = next(extra for name, _, extra in rows if name == "retrain-gate/fraud-scorer")
    assert extra["policy_name"] == "fraud-scorer" and extra["reasons"][0].startswith("Concept drift")
    assert "train_fraud_scorer_on_demand" in queued  # the asset-scheduled training DAG is due to run


def test_decision_shows_in_rendered_templates_extra_link_and_decision_log(
    example_runs: dict[str, DagRunSummary],
) -> None:
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    run = example_runs["retrain_gate_concept_drift"]
    with create_session() as session:
        ti = session.scalar(
            sa.select(TaskInstance).where(
                TaskInstance.run_id == run.run_id, TaskInstance.task_id == "retrain_gate"
            )
        )
        rendered = RenderedTaskInstanceFields.get_templated_fields(ti, session=session)
        link = session.scalar(
            XComModel.get_many(
                run_id=run.run_id, key="_link_RetrainGateDecisionLink", task_ids="retrain_gate"
            )
        )
        link_url = XComModel.deserialize_value(link)

    assert rendered["decision_markdown"].startswith("## Retrain gate: **train** (demo-concept_drift)")
    rows = rendered["decision_markdown"].splitlines()
    assert any(
        row.startswith("| concept_drift | concept_drift.predictions")
        and "model_name" in row
        and "| FAIL |" in row
        for row in rows
    ), "the concept drift finding names the predictions table with its filter"
    assert rendered["as_of"] == "2024-06-01T00:00:00+00:00"
    run_id = run.run_id.replace(":", "%3A").replace("+", "%2B")
    assert link_url == f"/retrain-gate/decision/retrain_gate_concept_drift/{run_id}/retrain_gate?map_index=-1"

    state = StateStore(f"sqlite:///{demo_home() / 'retrain_gate_state.sqlite'}")
    logged = DecisionLog(state).get(RunKey("retrain_gate_concept_drift", run.run_id, "retrain_gate"))
    state.dispose()
    assert logged is not None and logged.entry.branch == "train" and logged.entry.try_number == 1
    assert logged.decision.to_dict() == run.decisions["retrain_gate"]


def test_every_example_dag_run_succeeds(example_runs: dict[str, DagRunSummary]) -> None:
    assert {dag_id: run.state for dag_id, run in example_runs.items() if run.state != "success"} == {}


def test_a_multiclass_model_trains_when_one_class_changes(example_runs: dict[str, DagRunSummary]) -> None:
    run = example_runs["retrain_gate_multiclass"]

    decision = run.decisions["retrain_gate"]
    assert decision["branch"] == "train"
    assert decision["deciding_checks"][0] in {"concept_drift", "performance"}
    assert any("Class 'legit' (against the other classes)" in reason for reason in decision["reasons"])
    for task in BRANCH_TASKS:
        assert run.task_states[task] == ("success" if task == "train" else "skipped")


def test_feedback_fine_tune_reviews_the_prompt_release_instead_of_fine_tuning(
    example_runs: dict[str, DagRunSummary],
) -> None:
    run = example_runs["retrain_gate_feedback_fine_tune"]

    decision = run.decisions["retrain_gate"]
    assert decision["branch"] == "alert"
    assert decision["deciding_checks"][0] == "change_attribution"
    assert "prompt_version 'v12' took over on 2024-05-27" in decision["reasons"][0]
    assert run.task_states["review_prompt_release"] == "success"
    assert run.task_states["fine_tune"] == "skipped"
    assert run.task_states["fix_feedback_pipeline"] == "skipped"
