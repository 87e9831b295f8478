"""A reviewed gate under real Airflow: training waits for on-call's answer, and only a confirmed train emits the
asset a training DAG is scheduled on. On-call answers through the handlers of Airflow's Human-in-the-loop REST API,
on the session's metadata database, while ``dag.test()`` waits for the answers."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa

from airflow_retrain_gate.core import DecisionLog, RunKey, StateStore
from airflow_retrain_gate.demo.airflow_demo import DagRunSummary, run_example_dag
from airflow_retrain_gate.demo.provision import demo_home

if TYPE_CHECKING:
    from airflow.sdk import DAG

pytestmark = pytest.mark.airflow

COMMENT = "Labels matured; the outcome shift holds."
ANSWERS = {"review_confirmed": ("train", {"comment": COMMENT}), "review_overridden": ("skip", {})}
"""On-call confirms one gate's train with a comment, and overrides another to skip leaving the form empty;
``review_unanswered`` waits past its response timeout until the scheduler's timeout sweep resolves it."""
UNANSWERED = "review_unanswered"


@dataclass
class OnCall:
    """What on-call saw in the review requests, and what the metadata database held before answering."""

    requests: dict[str, dict[str, Any]] = field(default_factory=dict)
    before_answers: dict[str, Any] = field(default_factory=dict)
    error: BaseException | None = None


def asset_activity() -> dict[str, Any]:
    """Events of the reviewed gates' assets and the asset-triggered runs queued for their training DAGs."""
    from airflow.models.asset import AssetDagRunQueue, AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        events = session.execute(
            sa.select(AssetModel.name, AssetEvent.extra)
            .join(AssetEvent, AssetEvent.asset_id == AssetModel.id)
            .where(AssetModel.name.like("reviewed-gates/%"))
        ).all()
        queued = session.scalars(
            sa.select(AssetDagRunQueue.target_dag_id)
            .join(AssetModel, AssetModel.id == AssetDagRunQueue.asset_id)
            .where(AssetModel.name.like("reviewed-gates/%"))
        ).all()
    return {"events": [(name, extra) for name, extra in events], "queued": sorted(queued)}


@dataclass(frozen=True)
class ReviewedRun:
    """One run of `reviewed_gates`, what on-call saw, and the asset activity after the answers."""

    run: DagRunSummary
    on_call: OnCall
    after_answers: dict[str, Any]


@pytest.fixture(scope="module")
def reviewed(dags: dict[str, DAG], demo_warehouse: str) -> ReviewedRun:
    """Run `reviewed_gates` once while on-call answers its reviews in a thread."""
    seen = OnCall()
    thread = threading.Thread(target=answer_reviews, args=(seen,), daemon=True)
    thread.start()
    run = run_example_dag(dags["reviewed_gates"])
    thread.join(timeout=60)
    if seen.error is not None:
        raise seen.error
    return ReviewedRun(run, seen, asset_activity())


def answer_reviews(seen: OnCall) -> None:
    """Once the reviews wait, note the asset activity, answer as ANSWERS says, then run the scheduler's timeout sweep.

    The answers go through the handlers of Airflow's REST API (GET and PATCH
    ``.../taskInstances/{task_id}/{map_index}/hitlDetails``), as user ``oncall``, without building the whole app.
    """
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from airflow.api_fastapi.core_api.datamodels.hitl import UpdateHITLDetailPayload
    from airflow.api_fastapi.core_api.routes.public.hitl import get_hitl_detail, update_hitl_detail
    from airflow.jobs.job import Job
    from airflow.jobs.scheduler_job_runner import SchedulerJobRunner
    from airflow.models.hitl import HITLDetail
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    def waiting() -> list[tuple[str, str]]:
        with create_session() as session:
            query = (
                sa.select(TaskInstance.run_id, TaskInstance.task_id)
                .join(HITLDetail, HITLDetail.ti_id == TaskInstance.id)
                .where(TaskInstance.dag_id == "reviewed_gates", HITLDetail.responded_at.is_(None))
            )
            return [(run_id, task_id) for run_id, task_id in session.execute(query)]

    def respond(run_id: str, task_id: str, branch: str, params: dict[str, Any]) -> None:
        with create_session() as session:
            update_hitl_detail(
                dag_id="reviewed_gates",
                dag_run_id=run_id,
                task_id=task_id,
                update_hitl_detail_payload=UpdateHITLDetailPayload(
                    chosen_options=[branch], params_input=params
                ),
                user=SimpleAuthManagerUser(username="oncall", role="admin"),
                session=session,
            )

    deadline = time.monotonic() + 120
    try:
        while len(requests := waiting()) < len(ANSWERS) + 1:
            assert time.monotonic() < deadline, "the reviews did not ask for input within 120 s"
            time.sleep(0.5)
        seen.before_answers = asset_activity()
        for run_id, task_id in requests:
            with create_session() as session:
                detail = get_hitl_detail("reviewed_gates", run_id, task_id, session=session, map_index=-1)
                seen.requests[task_id] = detail.model_dump(mode="json")
            if task_id in ANSWERS:
                respond(run_id, task_id, *ANSWERS[task_id])
        time.sleep(1)  # the unanswered review's response timeout
        SchedulerJobRunner(job=Job()).check_awaiting_input_timeouts()
    except BaseException as error:  # noqa: BLE001 - the fixture raises it; dag.test() must not wait forever
        seen.error = error
        for run_id, task_id in waiting():
            respond(run_id, task_id, "skip", {})


def test_training_waits_for_the_review_and_an_override_to_skip_trains_nothing(reviewed: ReviewedRun) -> None:
    run = reviewed.run

    # Every gate decided train, and nothing was emitted or queued while the reviews waited.
    assert set(run.branches.values()) == {"train"} and len(run.branches) == 3
    assert reviewed.on_call.before_answers == {"events": [], "queued": []}
    # After the answers: the confirmed review trained and emitted its asset; the override skipped everything.
    assert run.state == "success"
    assert {task: state for task, state in run.task_states.items() if task.endswith("_confirmed")} == {
        "gate_confirmed": "success",
        "review_confirmed": "success",
        "train_confirmed": "success",
        "alert_confirmed": "skipped",
        "fix_features_confirmed": "skipped",
    }
    assert {task: state for task, state in run.task_states.items() if task.endswith("_overridden")} == {
        "gate_overridden": "success",
        "review_overridden": "success",
        "train_overridden": "skipped",
        "alert_overridden": "skipped",
        "fix_features_overridden": "skipped",
    }
    assert {task: state for task, state in run.task_states.items() if task.endswith("_unanswered")} == {
        "gate_unanswered": "success",
        "review_unanswered": "success",
        "alert_unanswered": "success",  # timeout_branch, although train was preselected
        "train_unanswered": "skipped",
        "fix_features_unanswered": "skipped",
    }
    events = reviewed.after_answers["events"]
    assert [name for name, _ in events] == ["reviewed-gates/confirmed"]
    assert events[0][1]["policy_name"] == "reviewed-confirmed" and events[0][1]["reviewed_by"] == "oncall"
    assert reviewed.after_answers["queued"] == ["train_confirmed"]


def test_the_answers_land_in_the_decision_log_an_empty_comment_as_none_a_timeout_as_nobodys(
    reviewed: ReviewedRun,
) -> None:
    log = DecisionLog(StateStore(f"sqlite:///{demo_home() / 'retrain_gate_state.sqlite'}"))
    confirmed = log.get(RunKey("reviewed_gates", reviewed.run.run_id, "gate_confirmed")).entry.review
    overridden = log.get(RunKey("reviewed_gates", reviewed.run.run_id, "gate_overridden")).entry.review
    unanswered = log.get(RunKey("reviewed_gates", reviewed.run.run_id, "gate_unanswered")).entry.review
    log.state.dispose()

    assert (confirmed.branch, confirmed.comment) == ("train", COMMENT)
    assert (overridden.branch, overridden.comment) == ("skip", None)
    assert confirmed.by == overridden.by == "oncall"
    assert (unanswered.branch, unanswered.by) == ("alert", None)


def test_the_review_form_preselects_the_gates_branch_and_shows_only_what_decided(
    reviewed: ReviewedRun,
) -> None:
    request = reviewed.on_call.requests["review_confirmed"]
    decision = reviewed.run.decisions["gate_confirmed"]

    assert request["defaults"] == ["train"]  # preselected; a timeout still takes timeout_branch (alert)
    assert request["params"]["comment"]["schema"]["type"] == ["null", "string"]  # optional
    body = request["body"]
    assert "| concept_drift | concept_drift.predictions" in body and "| FAIL | calibration_shift |" in body
    assert "| drift |" not in body  # passing findings stay behind the link
    deciding = [f for f in decision["findings"] if f["check"] in decision["deciding_checks"]]
    assert {f["check"] for f in deciding} == {"concept_drift", "residual_drift"}
    assert body.count("| FAIL |") == len(deciding)  # only the deciding findings
    others = len(decision["findings"]) - len(deciding)
    assert f"{others} other findings, with charts: [the decision's evidence](/retrain-gate/decision/" in body


def test_a_sensor_that_gave_up_is_recorded_by_the_gate_without_changing_its_branch(
    reviewed: ReviewedRun,
) -> None:
    decision = reviewed.run.decisions["gate_confirmed"]
    readiness = [finding for finding in decision["findings"] if finding["check"] == "readiness"]

    assert reviewed.run.task_states["wait_for_features"] == "skipped"  # soft_fail
    assert decision["branch"] == "train"  # the policy's max_lag (1d) passes; the sensor's 1s did not
    assert [finding["status"] for finding in readiness] == ["warn"]
    message = readiness[0]["message"]
    assert message.startswith(
        "Readiness sensor wait_for_features (max_lag 1s) gave up: Table concept_drift.features"
    )
    assert "(allowed 1s)" in message and decision["reasons"][-1] == message
    assert not any(f["check"] == "readiness" for f in reviewed.run.decisions["gate_overridden"]["findings"])
