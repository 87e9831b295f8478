"""Timeouts and stopping: a host that never answers, a query that never ends, and SIGTERM while a query runs.

No gate may hang past its timeouts, and no query may outlive the gate on the server.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from airflow_retrain_gate.core import Branch, Status, Warehouse, WarehouseError, termination
from airflow_retrain_gate.core.termination import CANCEL_GRACE_S, Terminated, run_until_terminated

from .cli_runs import diagnose_args, run_diagnose, write_policy
from .gates import diagnose, messages, train_policy

STARTUP_S = 8.0
"""What a CLI process may spend besides its timeouts: starting Python, importing, and the gate's own work."""


class SilentServer(threading.Thread):
    """A TCP port on 127.0.0.1 that accepts every connection and never sends a byte."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self.connected = threading.Event()

    def run(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:  # closed by stop()
                return
            self.accepted.append(connection)
            self.connected.set()

    def stop(self) -> None:
        """Close the listener and every connection it accepted."""
        self.listener.close()
        for connection in self.accepted:
            connection.close()


@pytest.fixture
def silent_server() -> Iterator[SilentServer]:
    """A running SilentServer, stopped after the test."""
    server = SilentServer()
    server.start()
    yield server
    server.stop()


@pytest.mark.parametrize("timeout_s", [3])
def test_the_cli_gives_up_on_a_host_that_never_answers_within_its_timeout(
    silent_server: SilentServer, tmp_path: Path, timeout_s: int
) -> None:
    policy = write_policy(tmp_path, train_policy())
    url = f"postgresql+psycopg2://gate:pw@127.0.0.1:{silent_server.port}/warehouse"
    started = time.monotonic()
    result = run_diagnose(policy, url, "--timeout", str(timeout_s), timeout=timeout_s + 60)
    elapsed = time.monotonic() - started

    assert timeout_s - 0.5 < elapsed < timeout_s + STARTUP_S, elapsed
    assert result.returncode == 0 and "Traceback" not in result.stderr
    decision = json.loads(result.stdout)
    assert decision["branch"] == "alert"
    errors = [finding["message"] for finding in decision["findings"] if finding["status"] == "error"]
    assert errors and all("timeout expired" in error and "\n" not in error for error in errors)


@pytest.mark.parametrize("connect_timeout", ["2s", "4s"])
def test_the_policy_connect_timeout_bounds_the_whole_gate_on_a_silent_host(
    silent_server: SilentServer, connect_timeout: str
) -> None:
    policy = train_policy() | {"warehouse": {"connect_timeout": connect_timeout}}
    warehouse = Warehouse(f"postgresql+psycopg2://gate:pw@127.0.0.1:{silent_server.port}/warehouse")
    started = time.monotonic()
    decision = diagnose(warehouse, policy)
    elapsed = time.monotonic() - started

    limit = float(connect_timeout.rstrip("s"))
    assert limit - 0.5 < elapsed < limit + 3, elapsed  # one wait for the first table, not one per table
    assert decision.branch is Branch.ALERT
    assert any("not tried again" in message for message in messages(decision, Status.ERROR))


@pytest.fixture(scope="module")
def sleeping_schema(train_schema: str, postgres_server: str) -> Iterator[str]:
    """The train story whose predictions view sleeps a minute per query."""
    engine = sa.create_engine(postgres_server)
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                f'CREATE VIEW "{train_schema}".sleeping_predictions AS SELECT p.* FROM "{train_schema}".predictions p '
                "CROSS JOIN (SELECT pg_sleep(60)) AS pause"
            )
        )
    yield train_schema
    engine.dispose()


@pytest.fixture
def application(postgres_server: str) -> Iterator[str]:
    """A fresh application_name for the gate's connections; its backends are terminated afterwards."""
    name = f"gate-{uuid.uuid4().hex[:8]}"
    yield name
    with sa.create_engine(postgres_server).connect() as connection:
        connection.execute(
            sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = :name"),
            {"name": name},
        )


def running_queries(postgres_server: str, application: str) -> int:
    """How many statements on the sleeping view the gate's backends are running on the server (its quick
    queries, running for a moment before the sleeping one starts, do not count)."""
    engine = sa.create_engine(postgres_server)
    with engine.connect() as connection:
        count = connection.execute(
            sa.text(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = :name AND state = 'active' "
                "AND query LIKE '%sleeping_predictions%'"
            ),
            {"name": application},
        ).scalar()
    engine.dispose()
    return int(count or 0)


def sleeping_policy(folder: Path, schema: str) -> Path:
    """The train policy reading predictions through the sleeping view."""
    policy = train_policy(schema=schema)
    policy["tables"]["predictions"]["table"] = f"{schema}.sleeping_predictions"
    return write_policy(folder, policy)


@pytest.mark.postgres
def test_a_query_past_the_timeout_is_cancelled_on_the_server(
    sleeping_schema: str, postgres_server: str, application: str, tmp_path: Path
) -> None:
    url = f"{postgres_server}?application_name={application}"
    result = run_diagnose(sleeping_policy(tmp_path, sleeping_schema), url, "--timeout", "1", timeout=120)

    assert result.returncode == 0 and json.loads(result.stdout)["branch"] == "alert"
    assert "canceling statement due to statement timeout" in result.stdout
    assert running_queries(postgres_server, application) == 0


def start_gate_and_wait_for_its_query(
    policy: Path, postgres_server: str, application: str
) -> subprocess.Popen[str]:
    """A CLI gate (timeout 120 s) whose sleeping query is running on the server."""
    args = diagnose_args(policy, f"{postgres_server}?application_name={application}", "--timeout", "120")
    gate = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while running_queries(postgres_server, application) == 0:
        assert gate.poll() is None and time.monotonic() < deadline, "the gate's query never started"
        time.sleep(0.1)
    return gate


@pytest.mark.postgres
def test_sigterm_cancels_the_running_query_and_exits_in_one_line(
    sleeping_schema: str, postgres_server: str, application: str, tmp_path: Path
) -> None:
    gate = start_gate_and_wait_for_its_query(
        sleeping_policy(tmp_path, sleeping_schema), postgres_server, application
    )
    gate.send_signal(signal.SIGTERM)
    stdout, stderr = gate.communicate(timeout=15)

    assert gate.returncode == 128 + signal.SIGTERM
    assert stdout == "" and stderr.count("\n") == 1 and "stopped by SIGTERM" in stderr
    assert running_queries(postgres_server, application) == 0


@pytest.mark.postgres
def test_without_a_cancel_the_query_outlives_a_killed_gate(
    sleeping_schema: str, postgres_server: str, application: str, tmp_path: Path
) -> None:
    """The control: SIGKILL leaves no chance to cancel, and the server goes on running the query."""
    gate = start_gate_and_wait_for_its_query(
        sleeping_policy(tmp_path, sleeping_schema), postgres_server, application
    )
    gate.kill()
    gate.communicate(timeout=15)
    time.sleep(0.5)
    assert running_queries(postgres_server, application) >= 1


def cancel_when_running(warehouse: Warehouse, is_running: Callable[[], bool]) -> threading.Thread:
    """A thread that calls `warehouse.cancel()` (what the operator's on_kill does) once a query runs."""

    def cancel() -> None:
        deadline = time.monotonic() + 30
        while not is_running() and time.monotonic() < deadline:
            time.sleep(0.05)
        warehouse.cancel()

    thread = threading.Thread(target=cancel, daemon=True)
    thread.start()
    return thread


@pytest.mark.postgres
def test_cancel_stops_a_postgresql_query_on_the_server(
    sleeping_schema: str, postgres_server: str, application: str
) -> None:
    warehouse = Warehouse(f"{postgres_server}?application_name={application}", statement_timeout_s=120)
    canceller = cancel_when_running(warehouse, lambda: running_queries(postgres_server, application) > 0)
    started = time.monotonic()
    with pytest.raises(
        WarehouseError, match="attack of the sleeper: query failed: query cancelled: the gate was stopped"
    ):
        warehouse.fetch(
            sa.text(f'SELECT count(*) FROM "{sleeping_schema}".sleeping_predictions'), "attack of the sleeper"
        )
    canceller.join()

    assert time.monotonic() - started < 30
    assert running_queries(postgres_server, application) == 0
    with pytest.raises(WarehouseError, match="the gate was stopped"):  # and nothing new starts
        warehouse.fetch(sa.text("SELECT 1"), "after")
    warehouse.dispose()


def test_cancel_interrupts_a_duckdb_query(sound_duckdb: str) -> None:
    warehouse = Warehouse(sound_duckdb, statement_timeout_s=120)
    started = time.monotonic()
    canceller = cancel_when_running(warehouse, lambda: time.monotonic() - started > 0.5)
    with pytest.raises(WarehouseError, match="query cancelled: the gate was stopped"):
        warehouse.fetch(sa.text("SELECT count(*) FROM range(100000000000) a, range(1000) b"), "endless")
    canceller.join()
    assert time.monotonic() - started < 10


def test_a_cancel_while_a_connection_opens_stops_the_read_that_follows(sound_duckdb: str) -> None:
    """SIGTERM may come while a pooled thread opens its connection, past the first check: the read is refused."""
    warehouse = Warehouse(sound_duckdb, statement_timeout_s=60)
    sa.event.listen(warehouse.engine, "checkout", lambda *_: warehouse.cancel())
    started = time.monotonic()
    with pytest.raises(WarehouseError, match="not read: the gate was stopped"):
        warehouse.fetch(sa.text("SELECT count(*) FROM range(100000000000) a, range(1000) b"), "endless")
    assert (
        time.monotonic() - started < 15
    )  # refused, where the endless statement would run for its 60 s timeout
    warehouse.dispose()


def stop_and_wait(cancels_needed: int, cancels: list[float]) -> Callable[[], str]:
    """An action that sends this process SIGTERM and then runs until `cancels_needed` cancels were made."""

    def action() -> str:
        os.kill(os.getpid(), signal.SIGTERM)
        while len(cancels) < cancels_needed:
            time.sleep(0.01)
        return "decided"

    return action


@pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(), reason="signal handlers need the main thread"
)
def test_a_stopped_gate_cancels_again_while_it_waits_for_its_reads() -> None:
    """A read that was starting when the first cancel came is stopped by a later one, well within the grace."""
    cancels: list[float] = []
    started = time.monotonic()
    with pytest.raises(Terminated, match="stopped by SIGTERM") as stopped:
        run_until_terminated(stop_and_wait(2, cancels), lambda: cancels.append(time.monotonic()))

    assert not stopped.value.abandoned and stopped.value.exit_code == 128 + signal.SIGTERM
    assert len(cancels) == 2 and time.monotonic() - started < CANCEL_GRACE_S


@pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(), reason="signal handlers need the main thread"
)
def test_reads_that_outlive_the_grace_are_abandoned(monkeypatch: pytest.MonkeyPatch) -> None:
    """A read no cancel stops: the gate gives up after the grace and says the process must not wait for it."""
    monkeypatch.setattr(termination, "CANCEL_GRACE_S", 1.0)
    cancels: list[float] = []
    started = time.monotonic()
    with pytest.raises(Terminated) as stopped:
        run_until_terminated(stop_and_wait(10**9, cancels), lambda: cancels.append(time.monotonic()))

    assert (
        stopped.value.abandoned and 1.0 <= time.monotonic() - started < 4
    )  # not waiting on the endless read
    assert len(cancels) >= 4  # cancelled on every round of the wait


def test_sigterm_ends_a_gate_stuck_on_a_silent_host_after_the_grace(
    silent_server: SilentServer, tmp_path: Path
) -> None:
    """A connection being opened has nothing to cancel: the gate still ends once the grace is over."""
    policy = write_policy(tmp_path, train_policy())
    url = f"postgresql+psycopg2://gate:pw@127.0.0.1:{silent_server.port}/warehouse"
    gate = subprocess.Popen(
        diagnose_args(policy, url, "--timeout", "120"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # connecting means imported, with the signal handler in place; a loaded machine may take long to get there
    assert silent_server.connected.wait(timeout=60), "the gate never connected to the silent host"
    assert gate.poll() is None
    stopped = time.monotonic()
    gate.send_signal(signal.SIGTERM)
    stdout, stderr = gate.communicate(timeout=60)

    assert time.monotonic() - stopped < CANCEL_GRACE_S + 2
    assert gate.returncode == 128 + signal.SIGTERM
    assert stdout == "" and stderr.count("\n") == 1 and "stopped by SIGTERM" in stderr
