"""Every story diagnosed on a real Spark SQL engine, in a process of its own: `python -m tests.spark.stories_on_spark DIR`.

It starts a Thrift server (local-cluster mode, two executors) in DIR, loads each story into schema `<story>`,
runs the gate on it, reads back what the tests judge and writes it to DIR/results.json. tests/spark/conftest.py
starts it when the session begins, so Spark's minutes of fixed cost per statement overlap the rest of the suite
on the other core instead of adding to it.
"""

from __future__ import annotations

import json
import re
import signal
import sys
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from airflow_retrain_gate.core import Warehouse
from airflow_retrain_gate.demo.stories import STORIES
from tests.scenarios.test_stories import diagnose

ROWS_PER_DAY = 1000
"""As on PostgreSQL: below ~800 rows a day the low band of kpi_band_misaligned is too thin to judge (on DuckDB too)."""
STORIES_AT_ONCE = 4
"""Stories loaded and diagnosed at the same time: one Thrift connection runs one statement, and each query's
fixed cost (planning, scheduling two executors) dominates at this size."""
RESULTS = "results.json"


def unavailable() -> str | None:
    """Why Spark cannot run here (no pyspark, no Java), or None."""
    try:
        from airflow_retrain_gate.demo.spark_server import java_missing, spark_home

        spark_home()
    except ImportError:
        return "pyspark is not installed (pip install 'airflow-retrain-gate[spark]')"
    return java_missing()


def story_result(url: str, story: str) -> dict[str, Any]:
    """The story's decision as a dict, or the error that kept the gate from deciding."""
    try:
        return {"decision": diagnose(url, story, rows_per_day=ROWS_PER_DAY, schema=story).to_dict()}
    except Exception:  # noqa: BLE001 - reported by the story's own test
        return {"error": traceback.format_exc()}


def column_kinds(url: str, table: str) -> dict[str, str]:
    """The kind the gate reads for each column of `table` on Spark."""
    warehouse = Warehouse(url)
    try:
        described = warehouse.describe(table, "tables.features.table")
    finally:
        warehouse.dispose()
    return {name: column.kind for name, column in described.columns.items()}


def run(workdir: Path) -> dict[str, Any]:
    """Start the server in `workdir`, diagnose every story and stop it again."""
    reason = unavailable()
    if reason:
        return {"unavailable": reason}
    from airflow_retrain_gate.demo.spark_server import SparkThriftServer

    server = SparkThriftServer(workdir / "server", small_tables=True)
    server.start()
    try:
        with ThreadPoolExecutor(STORIES_AT_ONCE) as pool:
            stories = dict(
                zip(STORIES, pool.map(lambda story: story_result(server.url, story), STORIES), strict=True)
            )
        kinds = column_kinds(server.url, "healthy.features")
    finally:
        server.stop()
    log = server.log_path.read_text(errors="replace")
    executors = sorted(set(re.findall(r"Finished task .* \(executor (\d+)\)", log)))
    return {"stories": stories, "features_column_kinds": kinds, "executors_with_tasks": executors}


def main(argv: list[str]) -> int:
    """Write the results of `run` to DIR/results.json (DIR is the only argument)."""
    workdir = Path(argv[0])
    workdir.mkdir(parents=True, exist_ok=True)
    # Terminated (a session cut short): unwind, so that `run` stops the server's JVMs on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    try:
        results = run(workdir)
    except Exception:  # noqa: BLE001 - the tests report it
        results = {"failed": traceback.format_exc()}
    # Written whole, then renamed: a test of another pytest-xdist worker polls for the file.
    partial = workdir / (RESULTS + ".partial")
    partial.write_text(json.dumps(results, default=str))
    partial.rename(workdir / RESULTS)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
