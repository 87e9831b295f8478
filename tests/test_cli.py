"""The `retrain-gate` command as a user runs it: a real process, real exit codes, real output."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from airflow_retrain_gate.cli import main
from airflow_retrain_gate.core import DecisionLog, RunKey, StateStore
from airflow_retrain_gate.core.engines import create_engine
from airflow_retrain_gate.demo.loading import load_tables
from airflow_retrain_gate.demo.stories import build_story, story_policy

CLI = [sys.executable, "-m", "airflow_retrain_gate.cli"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def trust_warehouse(story_warehouse: Callable[[str, int], tuple[str, Path]]) -> tuple[str, Path]:
    """A DuckDB warehouse telling the trust-decay story, and its policy file."""
    return story_warehouse("trust_decay", 600)


def test_diagnose_prints_the_decision_as_json_and_exits_0(trust_warehouse: tuple[str, Path]) -> None:
    url, policy = trust_warehouse
    result = run("diagnose", "--policy", str(policy), "--warehouse", url, "--as-of", "2024-06-01T00:00:00Z")
    assert result.returncode == 0, result.stderr
    decision = json.loads(result.stdout)
    assert decision["branch"] == "alert"
    assert decision["deciding_checks"][0] == "trust"
    assert {"reasons", "findings", "policy_sha256", "windows", "as_of"} <= set(decision)


@pytest.mark.parametrize("output", ["markdown", "table"])
def test_diagnose_renders_for_people(trust_warehouse: tuple[str, Path], output: str) -> None:
    url, policy = trust_warehouse
    result = run(
        "diagnose", "--policy", str(policy), "--warehouse", url, "--as-of", "2024-06-01", "--format", output
    )
    assert result.returncode == 0
    assert "Trust decay" in result.stdout


def test_diagnose_records_the_decision_and_uses_the_cache(
    trust_warehouse: tuple[str, Path], tmp_path: Path
) -> None:
    url, policy = trust_warehouse
    state = f"sqlite:///{tmp_path / 'state.sqlite'}"
    args = (
        "diagnose",
        "--policy",
        str(policy),
        "--warehouse",
        url,
        "--as-of",
        "2024-06-01",
        "--state",
        state,
        "--record",
    )
    first, second = json.loads(run(*args).stdout), json.loads(run(*args).stdout)
    assert first["notes"]["profile_cache"]["misses"] > 0
    assert second["notes"]["profile_cache"] == {
        "hits": first["notes"]["profile_cache"]["misses"],
        "misses": 0,
    }
    assert second["queries"] < first["queries"]


def test_an_unreachable_warehouse_is_a_decision_not_a_crash(trust_warehouse: tuple[str, Path]) -> None:
    _, policy = trust_warehouse
    result = run(
        "diagnose", "--policy", str(policy), "--warehouse", "postgresql+psycopg2://u:hunter2@127.0.0.1:1/db"
    )
    assert result.returncode == 0
    assert json.loads(result.stdout)["branch"] == "alert"
    assert "hunter2" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("name: x\ntables: [\n", "malformed YAML at line"),
        (
            "name: x\ntables:\n  features: {table: f, timestamp: ts}\nchecks:\n  drfit: {}\n",
            "checks.drfit: unknown check",
        ),
        (
            "name: x\ntables:\n  features: {table: f, timestamp: ts}\non_error: train\n",
            "on_error: 'train' is not allowed",
        ),
    ],
)
def test_policy_errors_exit_2_with_one_line_and_no_traceback(
    tmp_path: Path, content: str, message: str
) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text(content)
    result = run("diagnose", "--policy", str(policy), "--warehouse", "duckdb:///:memory:")
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert (
        run(
            "diagnose", "--policy", str(tmp_path / "missing.yaml"), "--warehouse", "duckdb:///:memory:"
        ).returncode
        == 2
    )
    assert run("diagnose").returncode == 2
    policy = tmp_path / "p.yaml"
    policy.write_text(yaml.safe_dump(story_policy("healthy")))
    bad_url = run("diagnose", "--policy", str(policy), "--warehouse", "nosuchdb://x")
    assert bad_url.returncode == 2 and "warehouse URL is not usable" in bad_url.stderr


def test_validate_policy_and_schema(tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text(yaml.safe_dump(story_policy("healthy")))
    assert "valid policy 'demo-healthy'" in run("validate-policy", str(policy)).stdout
    schema = json.loads(run("schema").stdout)
    assert schema["title"] == "airflow-retrain-gate policy (v1)"


def test_demo_builds_the_stories_and_shows_each_branch(tmp_path: Path) -> None:
    result = run(
        "demo",
        "--path",
        str(tmp_path / "not_yet_made" / "demo.duckdb"),
        "--story",
        "healthy",
        "--story",
        "pipeline_lag",
        "--write-policies",
        str(tmp_path / "policies"),
    )
    assert result.returncode == 0, result.stderr
    assert "2/2 stories took the branch they call for." in result.stdout
    assert "[freshness]" in result.stdout
    assert (tmp_path / "policies" / "pipeline_lag.yaml").exists()


@pytest.fixture(scope="module")
def stories_warehouse(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """One DuckDB file holding four stories under their own prefixes, and the folder of their policy files."""
    folder = tmp_path_factory.mktemp("exit_codes")
    url = f"duckdb:///{folder / 'w.duckdb'}"
    for story in ("healthy", "concept_drift", "trust_decay", "scale_change"):
        load_tables(url, build_story(story, rows_per_day=600), prefix=f"{story}__")
        (folder / f"{story}.yaml").write_text(yaml.safe_dump(story_policy(story, prefix=f"{story}__")))
    return url, folder


@pytest.mark.parametrize(
    ("story", "exit_code"), [("healthy", 0), ("concept_drift", 10), ("trust_decay", 20), ("scale_change", 30)]
)
def test_exit_code_gives_ci_one_code_per_branch(
    stories_warehouse: tuple[str, Path], story: str, exit_code: int
) -> None:
    url, folder = stories_warehouse
    policy = str(folder / f"{story}.yaml")
    args = ("diagnose", "--policy", policy, "--warehouse", url, "--as-of", "2024-06-01")

    assert run(*args, "--exit-code").returncode == exit_code
    assert run(*args).returncode == 0  # without the option every branch exits 0


def test_exit_code_3_when_the_gate_could_not_diagnose(stories_warehouse: tuple[str, Path]) -> None:
    _, folder = stories_warehouse
    unreachable = "postgresql://nobody@127.0.0.1:9/warehouse"
    result = run(
        "diagnose", "--policy", str(folder / "healthy.yaml"), "--warehouse", unreachable, "--exit-code",
        "--as-of", "2024-06-01",
    )  # fmt: skip
    assert result.returncode == 3, result.stderr
    assert json.loads(result.stdout)["branch"] == "alert"


def test_a_closed_stdout_ends_without_a_traceback_and_still_records(
    stories_warehouse: tuple[str, Path], tmp_path: Path
) -> None:
    url, folder = stories_warehouse
    state = f"sqlite:///{tmp_path / 'state.sqlite'}"
    command = [
        *CLI, "diagnose", "--policy", str(folder / "trust_decay.yaml"), "--warehouse", url,
        "--as-of", "2024-06-01", "--format", "markdown", "--state", state, "--record",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    process.stdout.close()  # the reader went away before the decision was printed, as `| head` does
    _, stderr = process.communicate(timeout=300)

    assert process.returncode == 141
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr
    logged = DecisionLog(StateStore(state)).get(
        RunKey("cli", "cli__2024-06-01T00:00:00+00:00", "demo-trust_decay")
    )
    assert logged is not None and logged.entry.branch == "alert"


def test_a_postgres_scheme_is_refused_with_the_dialect_to_write(stories_warehouse: tuple[str, Path]) -> None:
    policy = str(stories_warehouse[1] / "healthy.yaml")
    result = run("diagnose", "--policy", policy, "--warehouse", "postgres://u:secret@127.0.0.1/db")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "write 'postgresql://'" in result.stderr and "secret" not in result.stderr


@pytest.fixture(scope="module")
def gappy_warehouse(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The trust-decay story in DuckDB, with no predictions on three days of the reference window."""
    url = f"duckdb:///{tmp_path_factory.mktemp('dry_run') / 'w.duckdb'}"
    load_tables(url, build_story("trust_decay", rows_per_day=50))
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "DELETE FROM predictions WHERE event_ts >= '2024-04-02' AND event_ts < '2024-04-05'"
        )
    engine.dispose()
    return url


def test_validate_policy_dry_runs_the_mapping_and_reports_every_problem(
    gappy_warehouse: str, tmp_path: Path
) -> None:
    policy = story_policy("trust_decay")
    tables = policy["tables"]
    tables["features"]["numeric"][2] = "engagement_rat"
    tables["overrides"]["filters"] = {"overridden": 7}
    tables["events"]["table"] = "event"
    tables["training_signals"]["active"] = "experiment_arm"
    policy["windows"] = {**policy.get("windows", {}), "label_delay": "28d"}
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(policy))

    result = run("validate-policy", str(path), "--warehouse", gappy_warehouse, "--as-of", "2024-06-01")

    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert "  error: tables.features.numeric[2]: column 'engagement_rat' not found in table 'features'" in (
        result.stdout
    )
    assert "  error: tables.events.table: table 'event' not found" in result.stdout
    assert (
        "  error: tables.training_signals.active: column 'experiment_arm' of table 'training_signals' has type "
        "VARCHAR; the policy uses it as a number" in lines
    )
    assert any(
        line.startswith(
            "  error: tables.overrides.filters.overridden: overridden = 7 selects no row (the windows"
        )
        for line in lines
    )
    predictions = lines[
        lines.index(
            "tables.predictions: predictions[model_name = 'fraud-scorer'] (5 mapped columns fit their roles)"
        )
        + 1
    ]
    assert predictions.startswith(
        "  reference window: 3 of 28 days are empty (2024-04-02, 2024-04-03, 2024-04-04); "
    )
    judged = [line for line in lines if line.startswith("  outcomes ")]
    assert [line.split(" window:")[0] for line in judged] == ["  outcomes reference", "  outcomes current"], (
        "with a label delay, the predictions whose outcomes are judged are counted too"
    )
    assert lines[-1] == "4 errors, 0 warnings: the mapping needs fixing"


def test_validate_policy_dry_run_on_postgresql(
    postgres_schema: str, postgres_server: str, tmp_path: Path
) -> None:
    frames = build_story("trust_decay", rows_per_day=20)
    load_tables(postgres_server, frames, schema=postgres_schema)
    policy = story_policy("trust_decay")
    for mapping in policy["tables"].values():
        mapping["table"] = f"{postgres_schema}.{mapping['table']}"
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(policy))

    result = run("validate-policy", str(path), "--warehouse", postgres_server, "--as-of", "2024-06-01")

    assert result.returncode == 0, result.stdout + result.stderr
    predictions = frames["predictions"]
    current = predictions[(predictions.event_ts >= "2024-05-25") & (predictions.model_name == "fraud-scorer")]
    lines = result.stdout.splitlines()
    table = lines.index(
        f"tables.predictions: {postgres_schema}.predictions[model_name = 'fraud-scorer'] (5 mapped columns fit "
        "their roles)"
    )
    assert lines[table + 2] == f"  current window: {len(current)} rows, every one of its 7 days has rows"
    assert lines[-1] == "0 errors, 0 warnings: the mapping is usable"


def test_a_base_policy_validates_alone_and_unknown_checks_are_all_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "platform.yaml").write_text("checks:\n  drift: {warn: 0.15}\ncooldown: 7d\n")
    child = story_policy("healthy") | {"extends": "platform.yaml"}
    (tmp_path / "model.yaml").write_text(yaml.safe_dump(child))

    assert (
        main(["validate-policy", str(tmp_path / "platform.yaml"), "--warehouse", "duckdb:///:memory:"]) == 0
    )
    out = capsys.readouterr().out
    assert "valid base policy (it maps no tables, so it is meant to be extended)" in out
    assert "note: a policy extending it must set name, tables" in out
    assert main(["validate-policy", str(tmp_path / "model.yaml")]) == 0

    (tmp_path / "typos.yaml").write_text("checks:\n  drfit: {}\nactions:\n  segmnt_mix: alert\n")
    assert main(["validate-policy", str(tmp_path / "typos.yaml")]) == 2
    err = capsys.readouterr().err
    assert "checks.drfit: unknown check 'drfit'; actions.segmnt_mix: unknown check 'segmnt_mix'" in err
