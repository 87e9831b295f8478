"""RetrainGateOperator when things go wrong: broken policies fail the task naming the field, unknown connections
fail it naming the connection, an unreachable warehouse takes on_error (never train, no password anywhere),
a state database that refuses writes does not stop the branch, and a retry after a crash leaves one decision."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from airflow_retrain_gate.core import DecisionLog, LogQuery, PolicyError, RunKey, StateStore, run_gate
from airflow_retrain_gate.demo.airflow_demo import DagRunSummary
from airflow_retrain_gate.demo.catalog import DEMO_AS_OF
from airflow_retrain_gate.demo.provision import demo_home
from airflow_retrain_gate.demo.stories import story_policy
from airflow_retrain_gate.operators.gate import RetrainGateOperator, fitted_markdown
from airflow_retrain_gate.operators.links import decision_url

pytestmark = pytest.mark.airflow

PASSWORD = "pw-Qx7-never-shown"
RunDag = Callable[[str], DagRunSummary]


def test_a_broken_policy_fails_at_parse_time_naming_the_field(tmp_path: Path, airflow_db: Path) -> None:
    from airflow.dag_processing.dagbag import DagBag

    (tmp_path / "broken_gate.py").write_text(
        "from airflow.sdk import DAG\n"
        "from airflow_retrain_gate.operators.gate import RetrainGateOperator\n"
        "with DAG(dag_id='broken_gate', schedule=None):\n"
        "    RetrainGateOperator(task_id='retrain_gate', policy={'name': 'x', 'tables': {'features': {'table': 't'}}})\n"
    )

    errors = DagBag(str(tmp_path)).import_errors

    assert "tables.features.timestamp: required key is missing" in next(iter(errors.values()))


def test_a_broken_templated_policy_fails_the_task_naming_the_field(
    run_dag: RunDag, capfd: pytest.CaptureFixture[str]
) -> None:
    run = run_dag("gate_broken_policy")

    assert run.task_states["retrain_gate"] == "failed"
    assert run.decisions == {}
    assert "tables.features.timestamp: required key is missing" in "".join(capfd.readouterr())


def test_an_undefined_connection_fails_the_task_naming_it(
    run_dag: RunDag, capfd: pytest.CaptureFixture[str]
) -> None:
    run = run_dag("gate_unknown_connection")

    assert run.task_states["retrain_gate"] == "failed"
    assert "connection 'no_such_db' is not defined" in "".join(capfd.readouterr())


def test_an_unreachable_warehouse_takes_on_error_and_never_shows_the_password(
    run_dag: RunDag, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    unreachable = {
        "conn_type": "postgres",
        "host": "127.0.0.1",
        "port": 9,  # nothing listens on the discard port
        "login": "gate",
        "password": PASSWORD,
        "schema": "warehouse",
        "extra": {"sqlalchemy_scheme": "postgresql+psycopg2"},
    }
    monkeypatch.setenv("AIRFLOW_CONN_UNREACHABLE_WAREHOUSE", json.dumps(unreachable))

    run = run_dag("gate_unreachable_warehouse")

    decision = run.decisions["retrain_gate"]
    assert decision["branch"] == "alert"  # the policy's on_error; this story would otherwise train
    assert decision["reasons"][0].startswith("could not diagnose")
    assert run.task_states == {
        "retrain_gate": "success",
        "alert": "success",
        "fix_features": "skipped",
        "train": "skipped",
    }
    assert PASSWORD not in json.dumps(decision)
    output = "".join(capfd.readouterr())
    assert "could not diagnose" in output and PASSWORD not in output


@pytest.fixture
def select_only_role(postgres_server: str, postgres_schema: str) -> Iterator[str]:
    """A PostgreSQL login that may only read (USAGE and SELECT on one schema): its URL; dropped afterwards."""
    role = f"gate_reader_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(postgres_server)
    with engine.begin() as connection:
        connection.execute(sa.text(f"CREATE ROLE {role} LOGIN"))
        connection.execute(sa.text(f'GRANT USAGE ON SCHEMA "{postgres_schema}" TO {role}'))
        connection.execute(sa.text(f'GRANT SELECT ON ALL TABLES IN SCHEMA "{postgres_schema}" TO {role}'))
    yield sa.make_url(postgres_server).set(username=role).render_as_string(hide_password=False)
    with engine.begin() as connection:
        connection.execute(sa.text(f"DROP OWNED BY {role}"))
        connection.execute(sa.text(f"DROP ROLE {role}"))
    engine.dispose()


@pytest.mark.postgres
def test_a_state_database_that_refuses_writes_still_branches_and_says_what_was_not_recorded(
    run_dag: RunDag, select_only_role: str, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    state = {"conn_type": "retrain_gate_warehouse", "extra": {"sqlalchemy_url": select_only_role}}
    monkeypatch.setenv("AIRFLOW_CONN_READ_ONLY_STATE", json.dumps(state))

    run = run_dag("gate_read_only_state")

    assert run.task_states == {
        "retrain_gate": "success",
        "train": "success",
        "alert": "skipped",
        "fix_features": "skipped",
    }
    note = run.decisions["retrain_gate"]["notes"]["decision_log"]
    assert note.startswith("not recorded in the decision log: the train decision of gate_read_only_state/")
    assert "permission denied" in note
    with create_session() as session:
        ti = session.scalar(
            sa.select(TaskInstance).where(
                TaskInstance.run_id == run.run_id, TaskInstance.task_id == "retrain_gate"
            )
        )
        markdown = RenderedTaskInstanceFields.get_templated_fields(ti, session=session)["decision_markdown"]
    assert "### Notes" in markdown and "**decision_log**: not recorded in the decision log" in markdown
    logged = [
        line
        for line in "".join(capfd.readouterr()).splitlines()
        if "not recorded in the decision log" in line
    ]
    assert any("error" in line for line in logged)


def test_a_retry_after_a_crash_leaves_one_decision_and_one_asset_event(run_dag: RunDag) -> None:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    run = run_dag("gate_crashes_after_deciding")

    assert run.task_states["retrain_gate"] == "success"
    assert run.task_states["train"] == "success"
    state = StateStore(f"sqlite:///{demo_home() / 'retrain_gate_state.sqlite'}")
    log = DecisionLog(state)
    logged = log.get(RunKey("gate_crashes_after_deciding", run.run_id, "retrain_gate"))
    rows = [
        entry
        for entry in log.history(LogQuery(dag_ids=["gate_crashes_after_deciding"]))
        if entry.key.run_id == run.run_id
    ]
    state.dispose()
    assert logged is not None and logged.entry.try_number == 2 and len(rows) == 1
    with create_session() as session:
        events = session.scalar(
            sa.select(sa.func.count())
            .select_from(AssetEvent)
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .where(AssetModel.name == "retrain-gate/crash-test", AssetEvent.source_run_id == run.run_id)
        )
    assert events == 1  # the crashed try's event was never registered


def test_a_branch_mapped_to_a_missing_task_fails_naming_both(
    run_dag: RunDag, capfd: pytest.CaptureFixture[str]
) -> None:
    run = run_dag("gate_unknown_branch_task")

    assert run.task_states["retrain_gate"] == "failed"
    assert run.decisions == {}  # checked before the gate reads the warehouse
    assert "branches.train: task 'train_the_model' is not in DAG 'gate_unknown_branch_task'" in "".join(
        capfd.readouterr()
    )


def test_a_branch_without_a_task_skips_everything_downstream(run_dag: RunDag) -> None:
    run = run_dag("gate_without_an_alert_task")

    assert run.decisions["retrain_gate"]["branch"] == "alert"
    assert run.task_states == {"retrain_gate": "success", "train": "skipped"}


def test_branches_accept_only_the_three_routed_branches() -> None:
    with pytest.raises(ValueError, match="unknown branch 'skip'"):
        RetrainGateOperator(task_id="retrain_gate", policy="policy.yaml", branches={"skip": "nothing"})


def test_policy_errors_name_the_field_when_the_operator_is_built() -> None:
    with pytest.raises(PolicyError, match=r"windows\.current\.start"):
        RetrainGateOperator(
            task_id="retrain_gate",
            policy={
                **story_policy("healthy", schema="healthy"),
                "windows": {"current": {"start": "soon", "end": "0d"}},
            },
        )


def test_rendered_markdown_keeps_what_matters_within_airflows_field_limit(demo_warehouse: str) -> None:
    from airflow_retrain_gate.core import Warehouse, parse_policy

    warehouse = Warehouse(demo_warehouse, read_only=True)
    decision = run_gate(
        parse_policy(story_policy("trust_decay", schema="trust_decay")), warehouse, DEMO_AS_OF
    )
    warehouse.dispose()

    assert fitted_markdown(decision, 100_000) == decision.to_markdown()
    fitted = fitted_markdown(decision, 4096)
    assert len(fitted) < len(decision.to_markdown())
    assert "| trust | trust_decay.overrides | FAIL |" in fitted
    assert "| drift |" not in fitted  # passing findings give way
    assert fitted.endswith("XCom `retrain_gate_decision` holds every finding.")


def test_decision_link_quotes_the_run_id_under_the_api_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    assert decision_url("fraud", "manual__2024-06-01T00:00:00+00:00", "gate", -1) == (
        "/retrain-gate/decision/fraud/manual__2024-06-01T00%3A00%3A00%2B00%3A00/gate?map_index=-1"
    )
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://airflow.example.com/")
    assert decision_url("fraud", "scheduled__x", "group.gate", 3) == (
        "https://airflow.example.com/retrain-gate/decision/fraud/scheduled__x/group.gate?map_index=3"
    )


def test_airflows_ui_shows_rendered_templates_as_source_so_the_decision_page_renders_the_markdown() -> None:
    import airflow

    bundles = (Path(airflow.__file__).parent / "ui" / "dist" / "assets").glob("index-*.js")
    ui = "".join(bundle.read_text() for bundle in bundles)

    # The Rendered Templates page reads `rendered_fields` and guesses a language; it never reads the renderers
    # (docs/airflow.md says so: when an Airflow release starts to, give decision_markdown its renderer again).
    assert "rendered_fields" in ui and "template_fields_renderers" not in ui
    assert "decision_markdown" in RetrainGateOperator.template_fields
    assert "decision_markdown" not in RetrainGateOperator.template_fields_renderers
