"""The decision-quality harness runs, resumes and reports: a healthy world skips, a pipeline
that stopped delivering is caught at every magnitude, and a second call runs nothing new."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.decisions import harness, report
from benchmarks.decisions.runs import read_results

ARGS = ["--sizes", "150", "--harmless", "healthy", "--healthy-seeds", "1", "--first-seed", "7"]
POWER = ["--power", "pipeline_lag", "--power-size", "150", "--power-seeds", "1"]


def test_runs_are_recorded_resumed_and_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = tmp_path / "results.jsonl"

    assert harness.main(["--results", str(results), *ARGS, *POWER]) == 0
    assert harness.main(["--results", str(results), *ARGS, *POWER]) == 0
    runs = read_results(results)
    assert report.main([str(results), "--plot", str(tmp_path / "plot.png")]) == 0
    printed = capsys.readouterr().out

    assert len(runs) == 5
    assert [run.branch for run in runs if run.story == "healthy"] == ["skip"]
    assert all(run.branch == "fix_features" for run in runs if run.story == "pipeline_lag")
    assert "| healthy (skip) | 150 | 1 | skip 1 | 0.0% | 0.0% to 97.5% | - |" in printed
    assert "| pipeline_lag (fix_features) | 150 | 1/1 | 1/1 | 1/1 | 1/1 | - |" in printed
    assert (tmp_path / "plot.png").stat().st_size > 10_000
