"""Spark SQL runs in the background from the session's start (tests/spark/stories_on_spark.py), when the stories'
Spark tests are selected; the tests read what it wrote.

Under pytest-xdist one worker (gw0) starts the run, in a folder of the test run that every worker knows, and
the tests poll for its results on whichever worker they land.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import IN_CI
from tests.spark.stories_on_spark import RESULTS

STORY_TESTS = "tests/spark/test_spark_stories.py"
WAIT_S = 1500
"""How long the tests wait for the background run: about 4 minutes alone on 2 cores, longer beside the suite."""
_background: dict[str, Any] = {}


def run_folder(config: pytest.Config) -> Path:
    """Where the background run writes: a folder of its own, shared by the workers of one xdist run."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker is None:
        return Path(tempfile.mkdtemp(prefix="retrain-gate-spark-"))
    # Under xdist every worker's basetemp lies in the run's root folder (its retention cleans it up).
    return config._tmp_path_factory.getbasetemp().parent / "spark"


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the Spark run as soon as the session knows it will need it."""
    if session.config.option.collectonly or not any(
        item.nodeid.startswith(STORY_TESTS) for item in session.items
    ):
        return
    workdir = run_folder(session.config)
    _background["workdir"] = workdir
    if os.environ.get("PYTEST_XDIST_WORKER", "gw0") != "gw0":
        return
    workdir.mkdir(exist_ok=True)
    root = Path(__file__).resolve().parents[2]
    _background["process"] = subprocess.Popen(
        [sys.executable, "-m", "tests.spark.stories_on_spark", str(workdir)],
        cwd=root,
        stdout=(workdir / "run.log").open("wb"),
        stderr=subprocess.STDOUT,
    )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A session cut short does not leave Spark running (the run stops its server when terminated). Otherwise
    the run is left to finish for the workers that may still read it; outside xdist its folder goes."""
    process = _background.get("process")
    if process is not None and process.poll() is None:
        if exitstatus == pytest.ExitCode.INTERRUPTED or "PYTEST_XDIST_WORKER" not in os.environ:
            process.terminate()
        process.wait(timeout=WAIT_S)
    if "workdir" in _background and "PYTEST_XDIST_WORKER" not in os.environ:
        shutil.rmtree(_background["workdir"], ignore_errors=True)


def wait_for_results(workdir: Path) -> Path:
    """The results file, once the background run (of this process or another worker) has written it."""
    results_file = workdir / RESULTS
    process = _background.get("process")
    deadline = time.monotonic() + WAIT_S
    while not results_file.exists() and time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            break
        time.sleep(2)
    return results_file


@pytest.fixture(scope="session")
def spark_results() -> dict[str, Any]:
    """What the background run wrote; skips without Java or pyspark, except in CI where both must be there."""
    if "workdir" not in _background:
        pytest.fail(f"the Spark run was not started: run {STORY_TESTS} within a pytest session")
    workdir: Path = _background["workdir"]
    results_file = wait_for_results(workdir)
    if not results_file.exists():
        log_file = workdir / "run.log"
        log = log_file.read_text(errors="replace")[-3000:] if log_file.exists() else "(no log)"
        pytest.fail(f"the Spark run wrote no results within {WAIT_S} s:\n{log}")
    results = json.loads(results_file.read_text())
    if "failed" in results:
        pytest.fail(f"the Spark run failed:\n{results['failed']}")
    if "unavailable" in results:
        if IN_CI:
            pytest.fail(f"CI=true but Spark cannot run: {results['unavailable']}")
        pytest.skip(results["unavailable"])
    return results
