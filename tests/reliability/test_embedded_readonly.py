"""DuckDB and SQLite warehouses are opened read-only: many gates share one file, none writes it or creates it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import sqlalchemy as sa

from airflow_retrain_gate.core import Branch, DecisionLog, StateStore, Warehouse, WarehouseError
from airflow_retrain_gate.demo.loading import load_tables

from .cli_runs import diagnose_args, run_diagnose, write_policy
from .gates import diagnose, train_policy

GATES = 4


@pytest.fixture(scope="module")
def sqlite_warehouse(tmp_path_factory: pytest.TempPathFactory, train_frames: dict[str, pd.DataFrame]) -> str:
    """A SQLite file holding the train story."""
    url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'warehouse.sqlite'}"
    load_tables(url, train_frames)
    return url


def test_four_gates_on_one_duckdb_file_all_decide(sound_duckdb: str, tmp_path: Path) -> None:
    policy = write_policy(tmp_path, train_policy())
    gates = [
        subprocess.Popen(
            diagnose_args(policy, sound_duckdb), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(GATES)
    ]
    outputs = [gate.communicate(timeout=180) for gate in gates]

    assert [gate.returncode for gate in gates] == [0] * GATES, [stderr for _, stderr in outputs]
    assert [json.loads(stdout)["branch"] for stdout, _ in outputs] == ["train"] * GATES


def test_a_duckdb_file_held_by_a_writer_is_an_error_in_one_line(sound_duckdb: str, tmp_path: Path) -> None:
    """DuckDB admits one process when it writes: the gate then cannot read, says why, and never trains."""
    path = sa.engine.make_url(sound_duckdb).database
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, sys; c = duckdb.connect({path!r}); print('open', flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "open"
        result = run_diagnose(write_policy(tmp_path, train_policy()), sound_duckdb)
    finally:
        writer.communicate("", timeout=30)

    assert result.returncode == 0, result.stderr
    decision = json.loads(result.stdout)
    assert decision["branch"] == "alert" and "Could not set lock" in decision["reasons"][0]


@pytest.mark.parametrize("dialect", ["duckdb", "sqlite"])
def test_a_warehouse_file_that_does_not_exist_is_named_and_not_created(tmp_path: Path, dialect: str) -> None:
    missing = tmp_path / "typo" / f"warehouse.{dialect}"
    with pytest.raises(WarehouseError, match=f"warehouse file '{missing}' does not exist"):
        Warehouse(f"{dialect}:///{missing}")
    if dialect == "duckdb":  # and through the CLI: exit 2 and one line
        result = run_diagnose(write_policy(tmp_path, train_policy()), f"{dialect}:///{missing}")
        assert result.returncode == 2 and result.stderr.count("\n") == 1 and str(missing) in result.stderr
    assert not missing.exists() and not missing.parent.exists()


def test_a_sqlite_warehouse_refuses_writes_and_still_decides(sqlite_warehouse: str) -> None:
    warehouse = Warehouse(sqlite_warehouse)
    with pytest.raises(WarehouseError, match="readonly database"):
        warehouse.fetch(sa.text("DELETE FROM features"), "attack")
    assert diagnose(warehouse, train_policy()).branch is Branch.TRAIN


def test_one_duckdb_file_as_warehouse_and_state_in_one_process(
    tmp_path: Path, train_frames: dict[str, pd.DataFrame]
) -> None:
    """The warehouse reads read-only while the state store writes the same file (DuckDB: one instance per process)."""
    url = f"duckdb:///{tmp_path / 'both.duckdb'}"
    load_tables(url, train_frames)
    result = run_diagnose(write_policy(tmp_path, train_policy()), url, "--state", url, "--record")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["branch"] == "train"
    state = StateStore(url)
    assert [entry.branch for entry in DecisionLog(state).history()] == ["train"]
    state.dispose()
    duckdb.connect(str(tmp_path / "both.duckdb")).close()  # nothing kept the file locked
