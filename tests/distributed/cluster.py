"""A distributed Airflow on this machine, started and stopped by the tests: docker-compose.yml's services
(api-server, scheduler, dag-processor, triggerer, two Celery workers) as processes, with the compose file's own
environment pointed at the PostgreSQL and Redis servers on 127.0.0.1.

Every component gets its own AIRFLOW_HOME (logs, pid files) and a log file; the workers also their own hostname,
as two hosts would have. Nothing is inherited from the test process's Airflow settings.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psutil
import sqlalchemy as sa
import yaml
from worker_host import HOSTNAME_VARIABLE, hostname

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
COMPOSE_HOSTS = ("postgres", "redis", "warehouse", "airflow-apiserver")
"""Service names the compose environment uses as host names; each must be replaced before a process starts."""
HEARTBEAT_TIMEOUT_S = 20
"""A task whose worker stops heartbeating for this long is failed (and retried) by the scheduler."""
CACHED_REFERENCE_PROFILES = 3
"""Reference profiles a story's gate caches whole: versions (the story maps an events table), overrides and
training signals. The features, the score, the outcomes, the residuals and the row keys are cached as day parts
(kinds DAY_PART_KINDS), counted apart."""
DAY_PART_KINDS = ("features", "predictions", "outcomes", "residuals", "keys")
"""Cache kinds of per-day parts and their baselines, not of whole reference profiles."""
TEST_SETTINGS = {
    # Lost workers are noticed in seconds rather than the default five minutes.
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(HEARTBEAT_TIMEOUT_S),
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "2",
    # The DAG files do not change during a test: parse them once.
    "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "600",
    # A dead worker's unacknowledged message returns to the queue after this long (default: a day); Airflow
    # refuses to run a try that is no longer queued, so it matters only for what outlives the test.
    "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT": "600",
    # The test DAG and the workers' hostname callable import modules of this folder.
    "PYTHONPATH": str(Path(__file__).parent),
}
"""What a test cluster sets beyond docker-compose.yml's environment (besides ports, folders and names)."""
PR_SET_PDEATHSIG = 1
T = TypeVar("T")


class ClusterError(AssertionError):
    """A component failed or a wait ran out; the message ends with the tail of every component's log."""


@dataclass(frozen=True)
class Endpoints:
    """Where the cluster's servers are: databases (SQLAlchemy URLs), the Redis broker, the api-server port."""

    metadata_url: str
    warehouse_url: str
    broker_url: str
    api_port: int

    @property
    def api_url(self) -> str:
        """The api-server's base URL."""
        return f"http://127.0.0.1:{self.api_port}"


def compose_services() -> dict[str, dict[str, Any]]:
    """docker-compose.yml's services, anchors and merge keys resolved."""
    return yaml.safe_load(COMPOSE_FILE.read_text())["services"]


def compose_environment(endpoints: Endpoints, root: Path) -> dict[str, str]:
    """The environment every Airflow service of docker-compose.yml gets, pointed at `endpoints`.

    Databases, broker and api-server move to 127.0.0.1, the connections to the test warehouse, and files the
    compose file mounts into the container are copied into `root`.
    """
    compose = yaml.safe_load(COMPOSE_FILE.read_text())["x-airflow-common"]
    environment = {name: _compose_default(str(value)) for name, value in compose["environment"].items()}
    metadata = sa.engine.make_url(endpoints.metadata_url)
    driver = sa.engine.make_url(environment["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]).drivername
    metadata_url = metadata.set(drivername=driver).render_as_string(hide_password=False)
    environment.update(
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=metadata_url,
        AIRFLOW__CELERY__RESULT_BACKEND=f"db+{metadata_url}",
        AIRFLOW__CELERY__BROKER_URL=endpoints.broker_url,
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"{endpoints.api_url}/execution/",
    )
    for name, value in environment.items():
        if name.startswith("AIRFLOW_CONN_"):
            environment[name] = _pointed_connection(value, endpoints.warehouse_url)
    mounts = {}  # container path -> repository path
    for volume in compose["volumes"]:
        source, target = volume.split(":")[:2]
        mounts[target] = source
    for name, value in environment.items():
        if value in mounts:  # a file the container gets mounted: a copy of the repository's file
            copy = root / Path(value).name
            shutil.copyfile(REPO / mounts[value], copy)
            environment[name] = str(copy)
    unresolved = [name for name, value in environment.items() if _compose_hosts_in(value)]
    assert not unresolved, f"docker-compose.yml names a service host the tests do not replace in {unresolved}"
    return environment


def _compose_default(value: str) -> str:
    """``${VAR:-default}`` as Compose resolves it with VAR unset."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)


def _compose_hosts_in(value: str) -> set[str]:
    """The compose service names a setting uses as a host: in URLs, and in connections' "host" fields."""
    hosts = re.findall(r"://(?:[^@/]*@)?([^:/?]+)", value) + re.findall(r'"host": "([^"]+)"', value)
    return set(hosts) & set(COMPOSE_HOSTS)


def _pointed_connection(value: str, warehouse_url: str) -> str:
    """A compose connection (JSON) with its host, port, login, password and database taken from `warehouse_url`."""
    fields = json.loads(value)
    url = sa.engine.make_url(warehouse_url)
    fields.update(
        host=url.host, port=url.port, login=url.username, password=url.password or "", schema=url.database
    )
    return json.dumps(fields)


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def clean_environment() -> dict[str, str]:
    """This process's environment without any Airflow or gate settings (the test session sets its own)."""
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AIRFLOW", "_AIRFLOW", "RETRAIN_GATE_")) and name != "PYTHONPATH"
    }


@dataclass
class Component:
    """One Airflow process of the cluster: its command, home, log file and, once started, the process."""

    name: str
    argv: list[str]
    home: Path
    process: subprocess.Popen[bytes] | None = None
    killed: bool = False

    @property
    def log(self) -> Path:
        """Standard output and error of the component."""
        return self.home / "component.log"

    def tail(self, lines: int = 25) -> str:
        """The last `lines` lines of the component's log."""
        if not self.log.exists():
            return "(no log)"
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def tree(self) -> list[psutil.Process]:
        """The component's process and every descendant (task processes run in process groups of their own)."""
        if self.process is None:
            return []
        try:
            root = psutil.Process(self.process.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []


@dataclass
class AirflowCluster:
    """Airflow components as child processes sharing one configuration; every wait is bounded by `deadline`."""

    root: Path
    environment: dict[str, str]
    endpoints: Endpoints
    deadline: float
    """time.monotonic() after which every wait fails."""
    components: dict[str, Component] = field(default_factory=dict)
    workers: list[str] = field(default_factory=list)
    """Names (and hostnames) of the Celery workers started."""

    def __post_init__(self) -> None:
        self.metadata = sa.create_engine(self.endpoints.metadata_url, poolclass=sa.pool.NullPool)

    def command(self, *args: str, within: float = 180) -> str:
        """Run one `airflow` command to completion (e.g. ``db migrate``); returns its output."""
        home = self.root / "cli"
        home.mkdir(exist_ok=True)
        done = subprocess.run(
            [sys.executable, "-m", "airflow", *args],
            env={**self.environment, "AIRFLOW_HOME": str(home)},
            capture_output=True,
            text=True,
            timeout=min(within, self.remaining()),
        )
        if done.returncode != 0:
            raise ClusterError(
                f"airflow {' '.join(args)} failed:\n{done.stdout[-2000:]}{done.stderr[-4000:]}"
            )
        return done.stdout

    def start(self, name: str, *args: str, environment: dict[str, str] | None = None) -> Component:
        """Start `airflow <args>` as component `name` in its own home and process group."""
        home = self.root / name
        (home / "tmp").mkdir(parents=True, exist_ok=True)
        component = Component(name, [sys.executable, "-m", "airflow", *args], home)
        with open(component.log, "wb") as log:
            component.process = subprocess.Popen(
                component.argv,
                env={
                    **self.environment,
                    "AIRFLOW_HOME": str(home),
                    "TMPDIR": str(home / "tmp"),
                    **(environment or {}),
                },
                cwd=home,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        self.components[name] = component
        return component

    def start_worker(self, name: str, concurrency: int) -> Component:
        """A Celery worker reporting `name` as its hostname, to Celery and in Airflow's task instances."""
        environment = {
            HOSTNAME_VARIABLE: name,
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": f"{hostname.__module__}.{hostname.__name__}",
            "PYTHONPATH": str(Path(__file__).parent),
        }
        self.workers.append(name)
        return self.start(
            name,
            "celery",
            "worker",
            "--celery-hostname",
            name,
            "--concurrency",
            str(concurrency),
            "--skip-serve-logs",
            environment=environment,
        )

    def start_compose_services(self, worker_concurrency: int) -> None:
        """Start each long-running Airflow service of docker-compose.yml as a process.

        Services run their compose command, plus what a shared machine needs: the api-server on the test's
        port of 127.0.0.1, no log-serving side processes, workers with `worker_concurrency` slots each.
        """
        for name, service in compose_services().items():
            if "build" not in service or service.get("restart") == "no":
                continue  # not Airflow (databases, Redis), or a one-off step (migration, seeding)
            command = service["command"]
            if command == ["celery", "worker"]:
                self.start_worker(name, worker_concurrency)
            elif command == ["api-server"]:
                self.start(name, *command, "--host", "127.0.0.1", "--port", str(self.endpoints.api_port))
            elif command in (["scheduler"], ["triggerer"]):
                self.start(name, *command, "--skip-serve-logs")
            elif command == ["dag-processor"]:
                self.start(name, *command)
            else:
                raise ClusterError(
                    f"docker-compose.yml service {name} runs {command}, which the tests do not start"
                )

    def remaining(self) -> float:
        """Seconds left before the deadline."""
        return self.deadline - time.monotonic()

    def wait_until(self, what: str, check: Callable[[], T], *, within: float, every: float = 0.5) -> T:
        """Poll `check` until it returns something truthy; fail naming `what` after `within` seconds."""
        limit = time.monotonic() + min(within, self.remaining())
        while True:
            self.check_running()
            value = check()
            if value:
                return value
            if time.monotonic() > limit:
                raise ClusterError(f"waited {within:.0f} s in vain for {what}\n{self.tails()}")
            time.sleep(every)

    def check_running(self) -> None:
        """Fail if a component exited that the test did not kill."""
        for component in self.components.values():
            assert component.process is not None
            if not component.killed and component.process.poll() is not None:
                raise ClusterError(
                    f"{component.name} exited with code {component.process.returncode}\n{self.tails()}"
                )

    def wait_until_ready(self, within: float = 120) -> None:
        """Until the api-server answers, the scheduler, dag-processor and triggerer heartbeat, the workers listen."""
        self.wait_until("the api-server", self._api_server_healthy, within=within)
        self.wait_until(
            "scheduler, dag-processor and triggerer heartbeats",
            lambda: {"SchedulerJob", "DagProcessorJob", "TriggererJob"} <= self._running_jobs(),
            within=within,
        )
        for name in self.workers:
            self.wait_until(
                f"Celery worker {name}",
                lambda name=name: (
                    f"celery@{name} ready" in self.components[name].log.read_text(errors="replace")
                ),
                within=within,
            )

    def wait_for_dags(self, dag_ids: list[str], within: float = 120) -> None:
        """Until the dag-processor has serialized every DAG in `dag_ids` and none of them is paused."""

        def parsed() -> bool:
            with self.metadata.connect() as connection:
                rows = connection.execute(
                    sa.text("SELECT dag_id FROM dag WHERE dag_id = ANY(:ids) AND NOT is_paused"),
                    {"ids": dag_ids},
                ).scalars()
                found = set(rows)
            return found == set(dag_ids)

        self.wait_until(f"the DAGs {', '.join(dag_ids)} to be parsed", parsed, within=within)

    def kill(self, name: str) -> None:
        """SIGKILL every process of component `name` at once, as if its host died."""
        component = self.components[name]
        component.killed = True
        processes = component.tree()
        for process in processes:
            try:
                process.send_signal(signal.SIGKILL)
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(processes, timeout=10)

    def stop(self, grace: float = 15) -> None:
        """SIGTERM every component, then SIGKILL whatever of them and their descendants is left."""
        processes = [process for component in self.components.values() for process in component.tree()]
        for component in self.components.values():
            if component.process is not None and component.process.poll() is None:
                component.process.terminate()
        _, alive = psutil.wait_procs(processes, timeout=grace)
        for process in alive:
            try:
                process.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(alive, timeout=5)
        for component in self.components.values():
            if component.process is not None:
                component.process.wait(timeout=5)
        self.metadata.dispose()

    def tails(self) -> str:
        """The tail of every component's log, for failure messages."""
        return "\n".join(f"----- {c.name} (last lines) -----\n{c.tail()}" for c in self.components.values())

    def query(self, sql: str, **parameters: Any) -> list[sa.Row[Any]]:
        """Rows of a query on the metadata database."""
        with self.metadata.connect() as connection:
            return list(connection.execute(sa.text(sql), parameters))

    def _running_jobs(self) -> set[str]:
        rows = self.query(
            "SELECT DISTINCT job_type FROM job WHERE state = 'running' "
            "AND latest_heartbeat > now() - interval '30 seconds'"
        )
        return {row.job_type for row in rows}

    def _api_server_healthy(self) -> bool:
        try:
            response = httpx.get(
                f"{self.endpoints.api_url}/api/v2/monitor/health", timeout=5, trust_env=False
            )
        except httpx.TransportError:
            return False
        return response.status_code == 200


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL it if the test process dies without stopping the cluster."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


@dataclass
class ApiClient:
    """The api-server's public REST API, as a platform's tooling uses it (Simple auth manager login)."""

    base_url: str
    username: str
    password: str
    token: str = ""

    def login(self) -> None:
        """Get a JWT for the user."""
        response = httpx.post(
            f"{self.base_url}/auth/token",
            json={"username": self.username, "password": self.password},
            timeout=30,
            trust_env=False,
        )
        response.raise_for_status()
        self.token = response.json()["access_token"]

    def trigger(self, dag_id: str, run_id: str) -> dict[str, Any]:
        """Trigger a run of `dag_id` named `run_id` (no logical date: the DAGs' params give as_of)."""
        response = httpx.post(
            f"{self.base_url}/api/v2/dags/{dag_id}/dagRuns",
            json={"dag_run_id": run_id, "logical_date": None},
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=30,
            trust_env=False,
        )
        assert response.status_code == 200, f"triggering {dag_id}: {response.status_code} {response.text}"
        return dict(response.json())
