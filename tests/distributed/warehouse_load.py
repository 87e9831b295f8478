"""What one gate run costs a PostgreSQL warehouse: the queries and aggregate rows the gate fetched (from its
decision), and the table rows and bytes PostgreSQL scanned for it (``pg_statio_user_tables`` and
``pg_stat_user_tables`` before and after), with a cold and then a warm reference-profile cache."""

from __future__ import annotations

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
    """Run the gate of `policy` twice on one connection (cold, then warm cache); the load of each run.

    The gate's state goes to a schema of its own, dropped afterwards. Counters are read for the schemas the
    policy's tables are in, so other work on other schemas of the warehouse does not count.
    """
    parsed = parse_policy(policy)
    schemas = sorted({mapping.table.split(".")[0] for mapping in _mappings(parsed)})
    engine = sa.create_engine(warehouse_url, poolclass=sa.pool.StaticPool)  # one backend: its stats, flushed
    state_schema = f"load_probe_{uuid.uuid4().hex[:8]}"
    state = StateStore(warehouse_url, schema=state_schema)
    loads = []
    try:
        page_size = _page_size(engine)
        for cache in ("cold", "warm"):
            before = _counters(engine, schemas)
            decision = run_gate(parsed, Warehouse(engine), as_of, state=state)
            after = _counters(engine, schemas)
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
        engine.dispose()
    return loads


def _mappings(policy: Any) -> list[Any]:
    tables = policy.tables
    return [getattr(tables, name) for name in type(tables).model_fields if getattr(tables, name) is not None]


def _page_size(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.exec_driver_sql("SELECT current_setting('block_size')").scalar_one())


def _counters(engine: Engine, schemas: list[str]) -> _TableCounters:
    """Rows and pages read from the tables of `schemas` so far, after flushing this backend's statistics."""
    with engine.connect() as connection:
        # The backend reports its statistics when it goes idle after a transaction; force that report.
        connection.exec_driver_sql("SELECT pg_stat_force_next_flush()")
        connection.commit()
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
