"""Fixtures of the distributed tests: scratch PostgreSQL databases, a Redis broker namespace of their own, and
a running cluster of docker-compose.yml's Airflow services, stopped (every process killed) at the end."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from cluster import (
    REPO,
    TEST_SETTINGS,
    AirflowCluster,
    Endpoints,
    clean_environment,
    compose_environment,
    free_port,
)
from scratch_databases import scratch_database

IN_CI = os.environ.get("CI", "").lower() == "true"
BUDGET_S = 480
"""Every wait of a test module shares this budget, counted from the cluster's start. The module takes 5-6 min
on an idle 2-core machine; the margin is for a loaded one, where the waves' runs finish minutes late."""
REDIS_DB = 11
"""Redis database of these tests (keys also carry a prefix of their own run)."""
WORKER_CONCURRENCY = 2


@dataclass(frozen=True)
class Broker:
    """The Redis broker namespace of one test module: URL, key prefix and Celery queue."""

    url: str
    key_prefix: str
    queue: str


@pytest.fixture(scope="module")
def broker() -> Iterator[Broker]:
    """A key prefix and queue of this module's own in Redis database REDIS_DB; its keys are deleted afterwards."""
    client = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.ConnectionError:
        if IN_CI:
            pytest.fail("CI=true but Redis does not answer at 127.0.0.1:6379")
        pytest.skip("Redis does not answer at 127.0.0.1:6379")
    run = uuid.uuid4().hex[:10]
    prefix = f"retrain_gate_{run}:"
    yield Broker(f"redis://127.0.0.1:6379/{REDIS_DB}", prefix, f"retrain_gate_{run}")
    for key in client.scan_iter(match=f"{prefix}*"):
        client.delete(key)
    client.close()


@pytest.fixture(scope="module")
def warehouse_url(postgres_server: str) -> Iterator[str]:
    """A scratch database for the warehouse and the gate's state (schema retrain_gate), dropped afterwards.

    A database rather than a schema of `test`: the example DAGs read schemas named after their stories, and the
    gate's state schema is `retrain_gate`, names other tests on the server use as well.
    """
    with scratch_database(postgres_server, "rg_dist_warehouse") as url:
        yield url


@pytest.fixture(scope="module")
def cluster(
    postgres_server: str, warehouse_url: str, broker: Broker, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AirflowCluster]:
    """docker-compose.yml's Airflow services on a scratch metadata database, ready; stopped at the end.

    The dags folder holds the example DAGs and tests/distributed/dags. The warehouse starts empty: the example
    DAGs' ingest tasks build the stories they read, as on a fresh demo warehouse.
    """
    root = tmp_path_factory.mktemp("cluster")
    deadline = time.monotonic() + BUDGET_S
    with scratch_database(postgres_server, "rg_dist_airflow") as metadata_url:
        dags = root / "dags"
        dags.mkdir()
        (dags / "examples").symlink_to(REPO / "dags_examples", target_is_directory=True)
        (dags / "distributed").symlink_to(Path(__file__).parent / "dags", target_is_directory=True)
        endpoints = Endpoints(metadata_url, warehouse_url, broker.url, free_port())
        environment = {
            **clean_environment(),
            **compose_environment(endpoints, root),
            **TEST_SETTINGS,
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__OPERATORS__DEFAULT_QUEUE": broker.queue,
            "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX": broker.key_prefix,
        }
        cluster = AirflowCluster(root, environment, endpoints, deadline)
        try:
            cluster.command("db", "migrate")
            cluster.start_compose_services(WORKER_CONCURRENCY)
            cluster.wait_until_ready()
            yield cluster
        finally:
            cluster.stop()
