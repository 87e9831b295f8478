"""The benchmark command runs at its quick size: tables generated, floor, gate, steady daily gate and a short
backtest measured.

A smoke check only; times are never asserted (they belong in benchmarks/README.md, not in a test).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[2]
QUICK_ROWS = 100_000


def run_quick(
    engine: str, tmp_path: Path, namespace: str, postgres_url: str | None = None, *extra: str
) -> dict:
    """Run `benchmarks.run --sizes quick` for one engine without Evidently; return its stored measurement."""
    results = tmp_path / "results.json"
    command = [
        sys.executable,
        "-m",
        "benchmarks.run",
        "--sizes",
        "quick",
        "--engines",
        engine,
        "--no-evidently",
    ]
    command += [
        "--repeats",
        "1",
        "--backtest-dates",
        "5",
        "--results",
        str(results),
        "--no-update-readme",
        *extra,
    ]
    if postgres_url:
        command += ["--postgres-url", postgres_url]
    env = {**os.environ, "RETRAIN_GATE_BENCH_NAMESPACE": namespace, "RETRAIN_GATE_BENCH_DATA": str(tmp_path)}
    finished = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr[-3000:]
    assert "ETA" in finished.stderr, "the command reports progress with an ETA"
    assert "| engine | rows |" in finished.stdout, "the command prints the results table"
    return json.loads(results.read_text())["runs"][f"{engine}/{QUICK_ROWS}"]


def assert_measured(run: dict) -> None:
    """Every quantity of the issue was measured, and the second run read the reference from the cache."""
    assert run["skipped"] is None
    assert run["window_rows"] == QUICK_ROWS // 2, "reference + current windows hold half of the 70 days"
    for field in ("floor_s", "gate_s", "steady_s", "backtest_s", "gate_peak_rss_mb"):
        assert run[field] > 0, field
    assert 0 < run["rows_fetched"] < run["window_rows"], "only aggregates come back into Python"
    # Yesterday's run cached its day parts: today computes the new day of each window and merges the rest.
    assert run["steady_note"] == {"cached": 28 + 7 - 2, "computed": 2, "recomputed_days": {}}
    assert run["queries"] > len(
        [entry for entry in run["query_log"] if entry[0].endswith("current: summary")]
    )
    assert run["branch"] in {"skip", "alert", "train", "fix_features"}


@pytest.mark.slow
def test_quick_benchmark_on_duckdb(tmp_path: Path) -> None:
    run = run_quick("duckdb", tmp_path, f"smoke{uuid.uuid4().hex[:8]}", None, "--duckdb-memory-limit", "64MB")
    assert_measured(run)
    assert run["limited_peak_rss_mb"] > 0, "the DuckDB gate also ran with the memory_limit asked for"


@pytest.mark.slow
@pytest.mark.postgres
def test_quick_benchmark_on_postgresql(tmp_path: Path, postgres_server: str) -> None:
    namespace = f"smoke{uuid.uuid4().hex[:8]}"
    libpq_url = postgres_server.replace("postgresql+psycopg2://", "postgresql://", 1)
    try:
        assert_measured(run_quick("postgresql", tmp_path, namespace, libpq_url))
    finally:
        engine = sa.create_engine(postgres_server)
        with engine.begin() as connection:
            for schema in (f"{namespace}_100k", f"{namespace}_state_100k"):
                connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()
