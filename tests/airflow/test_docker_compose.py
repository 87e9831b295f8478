"""docker-compose.yml, read without Docker: the services a platform team expects, built from an image with this
package on the installed Airflow, the example DAGs mounted, and connections the package can use."""

from __future__ import annotations

import importlib
import json
import re
from importlib.metadata import version
from typing import Any

import pytest
import yaml
from airflow.sdk import Connection
from airflow_env import REPO

from airflow_retrain_gate.demo.provision import DEMO_STATE_CONN_ID, DEMO_WAREHOUSE_CONN_ID
from airflow_retrain_gate.hooks.warehouse import sqlalchemy_url_of

AIRFLOW_SERVICES = {
    "airflow-init": ["db", "migrate"],
    "warehouse-seed": ["python", "-m", "airflow_retrain_gate.demo.provision"],
    "airflow-apiserver": ["api-server"],
    "airflow-scheduler": ["scheduler"],
    "airflow-dag-processor": ["dag-processor"],
    "airflow-triggerer": ["triggerer"],
    "airflow-worker-1": ["celery", "worker"],
    "airflow-worker-2": ["celery", "worker"],
}


@pytest.fixture(scope="module")
def services() -> dict[str, dict[str, Any]]:
    """The compose file's services, anchors and merge keys resolved as Docker Compose resolves them."""
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]


def test_every_airflow_component_runs_from_the_package_image(services: dict[str, dict[str, Any]]) -> None:
    assert set(services) == {*AIRFLOW_SERVICES, "postgres", "warehouse", "redis"}
    for name, command in AIRFLOW_SERVICES.items():
        service = services[name]
        assert service["command"][: len(command)] == command, name
        assert service["build"] == {"context": ".", "dockerfile": "docker/Dockerfile"}, name
        assert service["image"] == f"airflow-retrain-gate:{version('apache-airflow')}", name
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["warehouse"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")


def test_the_image_installs_this_package_on_the_airflow_the_tests_run() -> None:
    dockerfile = (REPO / "docker" / "Dockerfile").read_text()
    installed = version("apache-airflow")

    assert re.search(rf"^FROM apache/airflow:{re.escape(installed)}-python3\.\d+$", dockerfile, re.MULTILINE)
    assert f'"apache-airflow=={installed}" "/opt/retrain-gate[postgres]"' in dockerfile
    copied = re.findall(r"^COPY --chown=\S+ (.+) /opt/retrain-gate/", dockerfile, re.MULTILINE)
    for sources in copied:
        for source in sources.split():
            assert (REPO / source).exists(), source


def test_airflow_runs_celery_on_postgresql_with_the_examples_mounted(
    services: dict[str, dict[str, Any]],
) -> None:
    for name in AIRFLOW_SERVICES:
        environment = services[name]["environment"]
        assert environment["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
        assert environment["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith(
            "postgresql+psycopg2://airflow:airflow@postgres:"
        )
        assert environment["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://redis:")
        assert (
            environment["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"]
            == "http://airflow-apiserver:8080/execution/"
        )
        assert "./dags_examples:/opt/airflow/dags:ro" in services[name]["volumes"]
        for mount in services[name]["volumes"]:
            source = mount.split(":")[0]
            if source.startswith("./"):
                assert (REPO / source).exists(), mount
    worker = services["airflow-worker-1"]
    assert services["airflow-worker-2"] == worker
    assert worker["depends_on"]["airflow-apiserver"] == {"condition": "service_healthy"}
    assert services["airflow-apiserver"]["ports"] == ["8080:8080"]


def test_services_start_in_order(services: dict[str, dict[str, Any]]) -> None:
    for name in ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"):
        depends_on = services[name]["depends_on"]
        assert depends_on["airflow-init"] == {"condition": "service_completed_successfully"}
        assert depends_on["warehouse-seed"] == {"condition": "service_completed_successfully"}
        assert depends_on["postgres"] == {"condition": "service_healthy"}
    assert set(services["airflow-init"]["depends_on"]) == {"postgres"}
    assert set(services["warehouse-seed"]["depends_on"]) == {"warehouse"}
    for service in services.values():
        assert set(service.get("depends_on", {})) <= set(services)


def test_the_demo_connections_reach_the_seeded_warehouse(services: dict[str, dict[str, Any]]) -> None:
    environment = services["airflow-scheduler"]["environment"]
    seed_command = services["warehouse-seed"]["command"]
    importlib.import_module(seed_command[2]).main  # noqa: B018 - the module the seed service runs has a main

    for conn_id in (DEMO_WAREHOUSE_CONN_ID, DEMO_STATE_CONN_ID):
        fields = json.loads(environment[f"AIRFLOW_CONN_{conn_id.upper()}"])
        url = sqlalchemy_url_of(
            Connection(conn_id=conn_id, **{**fields, "extra": json.dumps(fields["extra"])})
        )
        assert url.render_as_string(hide_password=False) == seed_command[3]
        assert url.host in services
    assert environment["AIRFLOW__RETRAIN_GATE__STATE_CONN_ID"] == DEMO_STATE_CONN_ID
