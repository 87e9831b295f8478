"""FeatureFreshnessSensor and LabelMaturitySensor in poke, reschedule and deferrable mode, and their trigger
measuring real databases."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import pytest
import sqlalchemy as sa
from airflow.sdk.exceptions import TaskDeferred

from airflow_retrain_gate.core import PolicyError, WarehouseError
from airflow_retrain_gate.core.readiness import FeatureFreshnessProbe, LabelMaturityProbe, probe_from_dict
from airflow_retrain_gate.demo.airflow_demo import DagRunSummary
from airflow_retrain_gate.demo.catalog import DEMO_AS_OF
from airflow_retrain_gate.demo.provision import DEMO_WAREHOUSE_CONN_ID
from airflow_retrain_gate.demo.stories import story_policy
from airflow_retrain_gate.sensors.readiness import (
    DEFERRAL_MARGIN_S,
    XCOM_MISSED_KEY,
    FeatureFreshnessSensor,
    LabelMaturitySensor,
)
from airflow_retrain_gate.triggers.readiness import ReadinessTrigger

pytestmark = pytest.mark.airflow

CONTEXT: dict[str, Any] = {}
"""The sensors read nothing from the context when `as_of` is given."""


def sensor(kind: type, story: str, **arguments: Any) -> Any:
    """A sensor on one story's schema of the demo warehouse, as of the demo instant."""
    return kind(
        task_id="wait",
        policy=story_policy(story, schema=story),
        warehouse_conn_id=DEMO_WAREHOUSE_CONN_ID,
        as_of=DEMO_AS_OF.isoformat(),
        poke_interval=0,
        **arguments,
    )


def first_event(trigger: ReadinessTrigger) -> dict[str, Any]:
    """Run a trigger the way the triggerer does and return its one event's payload."""

    async def run() -> dict[str, Any]:
        events = [event.payload async for event in trigger.run()]
        assert len(events) == 1
        return events[0]

    return asyncio.run(run())


def test_poke_mode_returns_the_reading_once_features_are_fresh(demo_warehouse: str) -> None:
    reading = sensor(FeatureFreshnessSensor, "healthy", timeout=5).execute(CONTEXT)

    assert reading["ready"] is True
    assert reading["message"].startswith("Table healthy.features is fresh")


def test_a_poke_on_late_features_is_not_done_and_says_why(demo_warehouse: str) -> None:
    poked = sensor(FeatureFreshnessSensor, "pipeline_lag", timeout=0).poke(CONTEXT)

    assert poked.is_done is False
    assert "not fresh yet" in poked.xcom_value["message"]


def test_label_maturity_compares_the_matured_share_with_the_threshold(demo_warehouse: str) -> None:
    reading = sensor(LabelMaturitySensor, "healthy", timeout=5).execute(CONTEXT)
    assert reading["ready"] is True and reading["threshold"] == 0.5 and 0.7 < reading["value"] < 0.85

    stricter = sensor(LabelMaturitySensor, "healthy", min_share=0.95, timeout=0)
    assert stricter.poke(CONTEXT).is_done is False and stricter.limit() == "min_share 0.95"


def test_label_maturity_needs_predictions_and_outcomes_mapped() -> None:
    policy = {"name": "features-only", "tables": {"features": {"table": "f", "timestamp": "ts"}}}
    from airflow_retrain_gate.core import parse_policy

    with pytest.raises(PolicyError, match=r"tables\.predictions: required key is missing"):
        LabelMaturityProbe.for_policy(parse_policy(policy), DEMO_AS_OF)


def test_deferrable_sensor_defers_to_a_serialisable_trigger_and_resumes_from_its_event(
    demo_warehouse: str,
) -> None:
    waiting = sensor(FeatureFreshnessSensor, "pipeline_lag", deferrable=True, timeout=60)

    with pytest.raises(TaskDeferred) as deferred:
        waiting.execute(CONTEXT)

    trigger = deferred.value.trigger
    assert isinstance(trigger, ReadinessTrigger)
    assert deferred.value.method_name == "execute_complete"
    assert deferred.value.timeout == timedelta(
        seconds=60 + DEFERRAL_MARGIN_S
    )  # the trigger's deadline comes first
    classpath, arguments = trigger.serialize()
    json.dumps(arguments)  # the triggerer stores the arguments as JSON
    assert classpath == "airflow_retrain_gate.triggers.readiness.ReadinessTrigger"
    assert ReadinessTrigger(**arguments).serialize() == (classpath, arguments)

    event = first_event(ReadinessTrigger(**{**arguments, "deadline": datetime.now(UTC).isoformat()}))
    assert event["status"] == "timeout" and "not fresh yet" in event["message"]
    assert event["reading"]["ready"] is False  # what the sensor hands the gate when it gives up

    ready = {"status": "success", "message": "fresh", "reading": {"ready": True}}
    assert waiting.execute_complete(CONTEXT, ready) == {"ready": True}
    with pytest.raises(WarehouseError, match="table gone"):
        waiting.execute_complete(CONTEXT, {"status": "error", "message": "table gone", "reading": None})


def test_deferrable_sensor_does_not_defer_when_ready_at_once(demo_warehouse: str) -> None:
    assert (
        sensor(FeatureFreshnessSensor, "healthy", deferrable=True, timeout=60).execute(CONTEXT)["ready"]
        is True
    )


class LiveFeatures(NamedTuple):
    """A feature table in a real warehouse, and a way to add rows to it while a trigger waits."""

    table: str
    add_row: Callable[[datetime], None]


@pytest.fixture(params=["sqlite", "postgres"])
def live_features(
    request: pytest.FixtureRequest, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[LiveFeatures]:
    """A `features` table in a real SQLite or PostgreSQL warehouse behind connection `trigger_warehouse`."""
    if request.param == "postgres":
        schema = request.getfixturevalue("postgres_schema")
        url, table = request.getfixturevalue("postgres_server"), f"{schema}.features"
    else:
        url, table = sqlite_url, "features"
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            sa.text(f"CREATE TABLE {table} (event_ts TIMESTAMP, entity_id INTEGER, value FLOAT)")
        )
    monkeypatch.setenv(
        "AIRFLOW_CONN_TRIGGER_WAREHOUSE",
        json.dumps({"conn_type": "generic", "extra": {"sqlalchemy_url": url}}),
    )

    def add_row(event_ts: datetime) -> None:
        with engine.begin() as connection:
            statement = sa.text(f"INSERT INTO {table} VALUES (:ts, 1, 0.5)")
            connection.execute(statement, {"ts": event_ts.replace(tzinfo=None)})

    yield LiveFeatures(table, add_row)
    engine.dispose()


def test_trigger_waits_for_late_rows_in_a_real_database(live_features: LiveFeatures) -> None:
    from airflow_retrain_gate.core.policy import FeaturesTable

    as_of = datetime(2024, 6, 1, tzinfo=UTC)
    features = FeaturesTable(table=live_features.table, timestamp="event_ts", numeric=["value"])
    probe = FeatureFreshnessProbe(features, as_of, timedelta(hours=6), timedelta(days=30))

    def trigger(deadline: datetime) -> ReadinessTrigger:
        return ReadinessTrigger(
            warehouse_conn_id="trigger_warehouse",
            probe=probe.to_dict(),
            poke_interval=0.05,
            deadline=deadline.isoformat(),
        )

    live_features.add_row(as_of - timedelta(days=2))
    late = first_event(trigger(datetime.now(UTC) + timedelta(seconds=0.3)))
    assert late["status"] == "timeout"
    assert late["reading"]["value"] == pytest.approx(2 * 86400)

    live_features.add_row(as_of - timedelta(hours=1))
    fresh = first_event(trigger(datetime.now(UTC) + timedelta(minutes=5)))
    assert fresh["status"] == "success"
    assert fresh["reading"] == {
        "ready": True,
        "message": fresh["message"],
        "value": 3600.0,
        "threshold": 21600.0,
    }
    assert probe_from_dict(probe.to_dict()) == probe


def test_trigger_reports_an_undefined_connection_by_name() -> None:
    probe = {
        "kind": "feature_freshness",
        "features": {"table": "f", "timestamp": "ts"},
        "as_of": "2024-06-01T00:00:00+00:00",
    }
    trigger = ReadinessTrigger(
        warehouse_conn_id="no_such_warehouse",
        probe={**probe, "max_lag_s": 60, "lookback_s": 60},
        poke_interval=1,
        deadline=None,
    )

    event = first_event(trigger)

    assert event["status"] == "error" and "connection 'no_such_warehouse' is not defined" in event["message"]


def test_reschedule_mode_gives_the_worker_slot_back_between_pokes_and_reports_what_it_missed(
    run_dag: Callable[[str], DagRunSummary],
) -> None:
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.taskreschedule import TaskReschedule
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    run = run_dag("sensor_modes")

    assert run.task_states == {
        "rescheduled_wait_for_features": "skipped"
    }  # gave up after its timeout (soft_fail)
    with create_session() as session:
        reschedules = session.scalar(
            sa.select(sa.func.count())
            .select_from(TaskReschedule)
            .join(TaskInstance, TaskInstance.id == TaskReschedule.ti_id)
            .where(TaskInstance.run_id == run.run_id)
        )
        missed = XComModel.deserialize_value(
            session.scalar(XComModel.get_many(run_id=run.run_id, key=XCOM_MISSED_KEY, dag_ids="sensor_modes"))
        )
    assert reschedules >= 2
    assert missed["sensor"] == "rescheduled_wait_for_features"
    assert missed["limit"] == "the policy's checks.freshness.max_lag"
    assert missed["reading"]["ready"] is False and "not fresh yet" in missed["reading"]["message"]


def test_a_deferred_sensor_that_gave_up_is_recorded_by_the_gate_after_it(
    example_runs: dict[str, DagRunSummary],
) -> None:
    decision = example_runs["retrain_gate_pipeline_lag"].decisions["retrain_gate"]
    readiness = next(finding for finding in decision["findings"] if finding["check"] == "readiness")

    assert readiness["subject"] == "wait_for_features" and readiness["status"] == "warn"
    assert readiness["message"].startswith(
        "Readiness sensor wait_for_features (the policy's checks.freshness.max_lag) gave up: Table pipeline_lag.features"
    )
    assert decision["branch"] == "fix_features"  # the policy's own freshness check decided
