"""One Spark SQL Thrift server for the session (local-cluster mode, two executors), from the pyspark package."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import IN_CI


@pytest.fixture(scope="session")
def spark_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A Thrift server started for the session and stopped after it; skips without Java or pyspark (the `spark`
    extra), except in CI where both must be there."""
    try:
        from airflow_retrain_gate.demo.spark_server import SparkThriftServer, java_missing, spark_home

        spark_home()
    except ImportError:
        reason = "pyspark is not installed (pip install 'airflow-retrain-gate[spark]')"
    else:
        reason = java_missing()
    if reason:
        if IN_CI:
            pytest.fail(f"CI=true but Spark cannot run: {reason}")
        pytest.skip(reason)
    server = SparkThriftServer(Path(tmp_path_factory.mktemp("spark")))
    server.start()
    try:
        yield server
    finally:
        server.stop()
