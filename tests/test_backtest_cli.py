"""`retrain-gate backtest` as a user runs it: every format parses, --plot draws a PNG, bad flags exit 2 naming
the flag."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from airflow_retrain_gate.cli import main

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def warehouse(story_warehouse: Callable[[str, int], tuple[str, Path]]) -> tuple[str, Path]:
    """A DuckDB warehouse telling the pipeline-lag story, and its policy file."""
    return story_warehouse("pipeline_lag", 300)


def backtest(warehouse: tuple[str, Path], *flags: str) -> list[str]:
    """The arguments of a backtest of one date, the story's last."""
    url, policy = warehouse
    return ["backtest", "--policy", str(policy), "--warehouse", url, "--start", "2024-06-01", "--end", "2024-06-01",
            *flags]  # fmt: skip


def test_json_holds_the_timeline_and_the_comparison_and_plot_draws_a_png(
    warehouse: tuple[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chart = tmp_path / "timeline.png"

    assert main(backtest(warehouse, "--format", "json", "--plot", str(chart))) == 0

    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert [day["branch"] for day in report["timeline"]] == ["fix_features"]
    assert report["timeline"][0]["deciding_checks"][0] == "freshness"
    assert report["comparison"]["schedule_retrains_on_broken_inputs"] == ["2024-06-01T00:00:00+00:00"]
    assert "backtest: date 1 of 1 (2024-06-01)" in captured.err
    assert chart.read_bytes().startswith(PNG_SIGNATURE)


@pytest.mark.parametrize(
    ("output", "expected"), [("markdown", "| date | branch |"), ("table", "fix_features")]
)
def test_markdown_and_table_show_the_timeline(
    warehouse: tuple[str, Path], capsys: pytest.CaptureFixture[str], output: str, expected: str
) -> None:
    assert main(backtest(warehouse, "--format", output)) == 0

    printed = capsys.readouterr().out
    assert expected in printed
    assert "scheduled retrains on broken inputs (policy: fix_features) | 1 (2024-06-01)" in printed or (
        "scheduled retrains on broken inputs (policy: fix_features): 1 (2024-06-01)" in printed
    )


def test_the_table_counts_one_date_in_the_singular_and_widens_its_date_column_for_a_time_of_day(
    warehouse: tuple[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    at_noon = ["--start", "2024-06-01T12:30", "--end", "2024-06-01T12:30"]  # the last --start and --end count
    assert main(backtest(warehouse, *at_noon, "--format", "table")) == 0

    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("every 1d (1 date)")
    header, row = lines[2], lines[3]
    assert row.startswith("2024-06-01T12:30:00+00:00  fix_features")
    assert header.index("branch") == row.index("fix_features")


def test_a_backtest_that_could_diagnose_no_date_prints_its_report_and_exits_2_naming_the_table(
    warehouse: tuple[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, story_policy = warehouse
    policy = yaml.safe_load(story_policy.read_text())
    policy["tables"]["features"]["table"] = "features_renamed"
    renamed = tmp_path / "renamed.yaml"
    renamed.write_text(yaml.safe_dump(policy))
    chart = tmp_path / "timeline.png"
    flags = ["--start", "2024-05-30", "--end", "2024-06-01", "--policy", str(renamed), "--format", "json"]

    assert main(backtest(warehouse, *flags, "--plot", str(chart))) == 2

    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert len(report["comparison"]["undiagnosed_dates"]) == 3
    assert all("schema" in day["errored_checks"] for day in report["timeline"])
    (last_line,) = [line for line in captured.err.splitlines() if line.startswith("retrain-gate:")]
    assert last_line.startswith("retrain-gate: no replayed date could be diagnosed:")
    assert "features_renamed" in last_line
    assert chart.read_bytes().startswith(PNG_SIGNATURE)  # drawn hollow, see backtest_chart.py


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--end", "2024-05-01"], "--end: 2024-05-01T00:00:00+00:00 is before --start"),
        (["--every", "7"], "--every: '7' has no unit"),
        (["--every=-1d"], "--every: '-1d' is not a positive duration"),
        (["--schedule", "weekly"], "--schedule: 'weekly' is not a duration"),
        (["--start", "yesterday"], "--start: 'yesterday' is not an ISO-8601 date"),
        (["--plot", "/no/such/folder/chart.png"], "--plot: folder '/no/such/folder' does not exist"),
        (["--format", "html"], "argument --format: invalid choice"),
    ],
)
def test_bad_flags_exit_2_naming_the_flag(
    warehouse: tuple[str, Path], capsys: pytest.CaptureFixture[str], flags: list[str], named: str
) -> None:
    url, policy = warehouse
    arguments = ["backtest", "--policy", str(policy), "--warehouse", url, "--start", "2024-06-01",
                 "--end", "2024-06-01", *flags]  # fmt: skip

    assert main(arguments) == 2
    assert named in capsys.readouterr().err


def test_an_unreadable_policy_exits_2_naming_the_flag(
    warehouse: tuple[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, _ = warehouse
    missing = tmp_path / "missing.yaml"

    assert main(["backtest", "--policy", str(missing), "--warehouse", url, "--start", "2024-06-01",
                 "--end", "2024-06-02"]) == 2  # fmt: skip
    assert "--policy:" in capsys.readouterr().err


def test_demo_builds_the_year_and_prints_the_command_to_backtest_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    demo = tmp_path / "demo.duckdb"

    assert main(["demo", "--path", str(demo), "--story", "year_in_the_life"]) == 0

    printed = capsys.readouterr().out
    policy = tmp_path / "year_in_the_life.yaml"
    assert (
        f"retrain-gate backtest --policy {policy} --warehouse duckdb:///{demo} --start 2024-03-04" in printed
    )
    assert yaml.safe_load(policy.read_text())["tables"]["features"]["table"] == "year_in_the_life.features"


def test_sigterm_stops_the_replay_and_removes_its_temporary_state(
    warehouse: tuple[str, Path], tmp_path: Path
) -> None:
    url, policy = warehouse
    command = [sys.executable, "-m", "airflow_retrain_gate.cli", "backtest", "--policy", str(policy),
               "--warehouse", url, "--start", "2024-04-01", "--end", "2024-06-01"]  # fmt: skip
    process = subprocess.Popen(
        command,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "TMPDIR": str(tmp_path)},
    )
    assert process.stderr is not None
    for line in process.stderr:  # the second date has started: the first is in the private decision log
        if line.startswith("backtest: date 2 of 62"):
            break
    process.send_signal(signal.SIGTERM)

    assert process.wait(timeout=60) == 143
    assert not list(tmp_path.glob("retrain_gate_backtest_*"))


def test_plot_without_matplotlib_exits_2_saying_how_to_install_it(
    warehouse: tuple[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # what an install without the plot extra looks like

    assert main(backtest(warehouse, "--plot", str(tmp_path / "chart.png"))) == 2
    assert (
        "--plot: matplotlib is not installed; install it with: pip install 'airflow-retrain-gate[plot]'"
        in (capsys.readouterr().err)
    )
