"""Spark SQL runs in the background from the session's start (tests/spark/stories_on_spark.py), when the stories'
Spark tests are selected; the tests read what it wrote."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import IN_CI
from tests.spark.stories_on_spark import RESULTS

STORY_TESTS = "tests/spark/test_spark_stories.py"
WAIT_S = 1500
"""How long the tests wait for the background run: about 4 minutes alone on 2 cores, longer beside the suite."""
_background: dict[str, Any] = {}


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the Spark run as soon as the session knows it will need it."""
    if session.config.option.collectonly or not any(
        item.nodeid.startswith(STORY_TESTS) for item in session.items
    ):
        return
    workdir = Path(tempfile.mkdtemp(prefix="retrain-gate-spark-"))
    root = Path(__file__).resolve().parents[2]
    _background["workdir"] = workdir
    _background["process"] = subprocess.Popen(
        [sys.executable, "-m", "tests.spark.stories_on_spark", str(workdir)],
        cwd=root,
        stdout=(workdir / "run.log").open("wb"),
        stderr=subprocess.STDOUT,
    )


def pytest_sessionfinish(session: pytest.Session) -> None:
    """A session cut short does not leave Spark running (the run stops its server when terminated); the run's
    folder (server, tables, log) goes."""
    process = _background.get("process")
    if process is not None and process.poll() is None:
        process.terminate()
        process.wait(timeout=60)
    if "workdir" in _background:
        shutil.rmtree(_background["workdir"], ignore_errors=True)


@pytest.fixture(scope="session")
def spark_results() -> dict[str, Any]:
    """What the background run wrote; skips without Java or pyspark, except in CI where both must be there."""
    process = _background.get("process")
    if process is None:
        pytest.fail(f"the Spark run was not started: run {STORY_TESTS} within a pytest session")
    process.wait(timeout=WAIT_S)
    workdir: Path = _background["workdir"]
    results_file = workdir / RESULTS
    if not results_file.exists():
        log = (workdir / "run.log").read_text(errors="replace")[-3000:]
        pytest.fail(f"the Spark run exited {process.returncode} without results:\n{log}")
    results = json.loads(results_file.read_text())
    if "failed" in results:
        pytest.fail(f"the Spark run failed:\n{results['failed']}")
    if "unavailable" in results:
        if IN_CI:
            pytest.fail(f"CI=true but Spark cannot run: {results['unavailable']}")
        pytest.skip(results["unavailable"])
    return results
