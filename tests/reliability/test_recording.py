"""Recording decisions: a state database that cannot be written loses no printed decision, and concurrent
writers to one SQLite or DuckDB state file lose no row."""

from __future__ import annotations

import json
import multiprocessing
import traceback
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from airflow_retrain_gate.cli import EXIT_UNRECORDED
from airflow_retrain_gate.core import Decision, DecisionLog, LogQuery, RunKey, StateStore

from .cli_runs import run_diagnose, write_policy
from .gates import diagnose, train_policy

RECORDS_PER_WRITER = 5


@pytest.fixture(scope="module")
def decision_json(sound_duckdb: str) -> str:
    """A real decision of the train story, as JSON, for writers to record."""
    return diagnose(sound_duckdb, train_policy()).to_json(indent=None)


def unwritable_states(postgres_server: str, folder: Path) -> dict[str, str]:
    """State URLs that accept no write: a SQLite file in a missing folder, and a read-only PostgreSQL session."""
    read_only = "options=-c%20default_transaction_read_only%3Don"
    return {
        "sqlite in a missing folder": f"sqlite:///{folder / 'missing' / 'state.sqlite'}",
        "read-only postgresql": f"{postgres_server}?{read_only}",
    }


@pytest.mark.postgres
@pytest.mark.parametrize("case", ["sqlite in a missing folder", "read-only postgresql"])
def test_an_unwritable_state_prints_the_decision_then_exits_4_in_one_line(
    sound_duckdb: str, postgres_server: str, tmp_path: Path, case: str
) -> None:
    state = unwritable_states(postgres_server, tmp_path)[case]
    result = run_diagnose(write_policy(tmp_path, train_policy()), sound_duckdb, "--state", state, "--record")

    assert result.returncode == EXIT_UNRECORDED == 4
    decision = json.loads(result.stdout)  # printed whole before the failure
    assert decision["branch"] in {"train", "alert"} and decision["reasons"]
    *warnings, failure = result.stderr.splitlines()  # warnings: the profile cache could not be written either
    assert failure.startswith("retrain-gate: the decision above was not recorded: ")
    assert all(line[:4].isdigit() for line in warnings) and "Traceback" not in result.stderr
    assert not (tmp_path / "missing").exists()


def writer(url: str, document: str, writer_index: int, start: Any, results: Any) -> None:
    """One process: wait for the others, then record RECORDS_PER_WRITER decisions under keys of its own."""
    try:
        decision = Decision.from_dict(json.loads(document))
        log = DecisionLog(StateStore(url))
        start.wait(timeout=60)
        for run in range(RECORDS_PER_WRITER):
            log.record(RunKey("fraud", f"scheduled__{writer_index}_{run}", "gate"), decision)
        log.state.dispose()
        results.put((writer_index, "ok"))
    except Exception:  # noqa: BLE001 - the parent reports what went wrong in the child
        results.put((writer_index, traceback.format_exc()))


def record_concurrently(url: str, document: str, writers: int) -> dict[int, str]:
    """Start `writers` processes at one barrier on a fresh state file; what each reported."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    start, results = context.Barrier(writers), context.Queue()
    processes = [
        context.Process(target=writer, args=(url, document, index, start, results))
        for index in range(writers)
    ]
    for process in processes:
        process.start()
    outcomes = dict(results.get(timeout=180) for _ in processes)
    for process in processes:
        process.join(timeout=30)
    return outcomes


@pytest.mark.parametrize(("dialect", "writers"), [("sqlite", 4), ("duckdb", 3)])
def test_concurrent_writers_to_one_state_file_lose_no_decision(
    decision_json: str, tmp_path: Path, dialect: str, writers: int
) -> None:
    url = f"{dialect}:///{tmp_path / f'state.{dialect}'}"
    outcomes = record_concurrently(url, decision_json, writers)

    assert outcomes == dict.fromkeys(range(writers), "ok"), outcomes
    state = StateStore(url)
    log = DecisionLog(state)
    assert log.count(LogQuery(dag_ids=["fraud"])) == writers * RECORDS_PER_WRITER
    with state.reading() as connection:
        version_rows = connection.execute(
            sa.select(sa.func.count()).select_from(state.tables["version"])
        ).scalar()
    state.dispose()
    assert version_rows == 2  # every migration applied once, though all writers raced to apply them
