"""What one gate run costs a PostgreSQL warehouse: the queries and aggregate rows the gate fetched (from its
decision), and the table rows and bytes PostgreSQL scanned for it (``pg_statio_user_tables`` and
``pg_stat_user_tables`` before and after), with a cold and then a warm reference-profile cache."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from airflow_retrain_gate.core import StateStore, Warehouse, parse_policy, run_gate


@dataclass(frozen=True)
class GateLoad:
    """One gate run's load on the warehouse."""

    cache: str
    """'cold' (no cached reference profile) or 'warm' (every reference profile cached)."""
    queries: int
    rows_fetched: int
    """Aggregate rows the worker received."""
    rows_scanned: int
    """Table rows PostgreSQL read for the gate's queries."""
    bytes_scanned: int
    """Table pages PostgreSQL read for them (from its buffer cache or disk), times the page size."""
    seconds: float


@dataclass(frozen=True)
class _TableCounters:
    rows: int
    blocks: int


def measure_gate_load(warehouse_url: str, policy: dict[str, Any], as_of: datetime) -> list[GateLoad]:
    """Run the gate of `policy` twice (cold, then warm cache) as a worker does; the load of each run.

    Each run gets its own pooled engine (two connections, as on a worker), disposed afterwards: PostgreSQL
    backends report their table statistics when they exit, so the counters are read once they have gone.
    The gate's state goes to a schema of its own, dropped afterwards. Counters are read for the schemas the
    policy's tables are in, so other work on other schemas of the warehouse does not count.
    """
    parsed = parse_policy(policy)
    schemas = sorted({mapping.table.split(".")[0] for mapping in _mappings(parsed)})
    reader = sa.create_engine(warehouse_url, poolclass=sa.pool.NullPool)
    state_schema = f"load_probe_{uuid.uuid4().hex[:8]}"
    state = StateStore(warehouse_url, schema=state_schema)
    loads = []
    try:
        page_size = _page_size(reader)
        for cache in ("cold", "warm"):
            before = _counters(reader, schemas)
            application = f"gate_load_{uuid.uuid4().hex[:8]}"
            engine = sa.create_engine(warehouse_url, connect_args={"application_name": application})
            decision = run_gate(parsed, Warehouse(engine), as_of, state=state)
            engine.dispose()
            _wait_until_gone(reader, application)
            after = _counters(reader, schemas)
            loads.append(
                GateLoad(
                    cache=cache,
                    queries=decision.queries,
                    rows_fetched=decision.rows_fetched,
                    rows_scanned=after.rows - before.rows,
                    bytes_scanned=(after.blocks - before.blocks) * page_size,
                    seconds=decision.duration_s,
                )
            )
    finally:
        with state.engine.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{state_schema}" CASCADE')
        state.dispose()
        reader.dispose()
    return loads


def _wait_until_gone(reader: Engine, application: str, timeout_s: float = 30) -> None:
    """Wait until no backend of `application` is left (each reports its statistics as it exits)."""
    deadline = time.monotonic() + timeout_s
    query = sa.text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :name")
    while True:
        with reader.connect() as connection:
            if connection.execute(query, {"name": application}).scalar_one() == 0:
                return
        if time.monotonic() > deadline:
            raise TimeoutError(f"backends of {application} still open after {timeout_s} s")
        time.sleep(0.05)


def _mappings(policy: Any) -> list[Any]:
    tables = policy.tables
    return [getattr(tables, name) for name in type(tables).model_fields if getattr(tables, name) is not None]


def _page_size(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.exec_driver_sql("SELECT current_setting('block_size')").scalar_one())


def _counters(engine: Engine, schemas: list[str]) -> _TableCounters:
    """Rows and pages read from the tables of `schemas` so far, as reported by backends that have finished."""
    with engine.connect() as connection:
        return _read_counters(connection, schemas)


def _read_counters(connection: Connection, schemas: list[str]) -> _TableCounters:
    row = connection.execute(
        sa.text(
            "SELECT coalesce(sum(s.seq_tup_read + coalesce(s.idx_tup_fetch, 0)), 0) AS rows, "
            "coalesce(sum(io.heap_blks_read + io.heap_blks_hit + coalesce(io.toast_blks_read, 0) "
            "+ coalesce(io.toast_blks_hit, 0)), 0) AS blocks "
            "FROM pg_stat_user_tables s JOIN pg_statio_user_tables io USING (relid) "
            "WHERE s.schemaname = ANY(:schemas)"
        ),
        {"schemas": schemas},
    ).one()
    return _TableCounters(int(row.rows), int(row.blocks))
