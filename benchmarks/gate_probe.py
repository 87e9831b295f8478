"""Subprocess: run the gate once on a benchmark table and report its time, rows fetched, queries and peak RSS."""

from __future__ import annotations

import argparse
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from airflow_retrain_gate.core import StateStore, Warehouse, parse_policy, run_gate
from benchmarks import scenario
from benchmarks.probe_output import report


def capture_statements(warehouse: Warehouse, path: Path) -> None:
    """Append every statement the gate sends, with its parameters, to `path` (JSON lines) for EXPLAIN."""

    @sa.event.listens_for(warehouse.engine, "before_cursor_execute")
    def _record(
        connection: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
    ) -> None:
        with path.open("a") as handle:
            handle.write(json.dumps({"statement": statement, "parameters": parameters}, default=str) + "\n")


def main() -> None:
    """Parse the arguments, run the gate, report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--engine", choices=["duckdb", "postgresql", "spark"], required=True)
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--url", required=True, help="warehouse SQLAlchemy URL")
    parser.add_argument("--state-url", help="state database URL (reference-profile cache); none: no cache")
    parser.add_argument("--state-schema", default=None)
    parser.add_argument("--policy-json", type=Path, help="policy to run (default: the benchmark's own)")
    parser.add_argument(
        "--days-before", type=int, default=0, help="decide as of this many days before the benchmark's as_of"
    )
    parser.add_argument("--capture-sql", type=Path, help="write the statements sent to this JSON-lines file")
    parser.add_argument(
        "--duckdb-memory-limit", help="DuckDB's memory_limit setting, e.g. 128MB (default: DuckDB's own)"
    )
    args = parser.parse_args()

    if args.duckdb_memory_limit:
        # DuckDB runs inside the gate's process: its buffer pool is part of the gate's RSS unless capped.
        config = {"memory_limit": args.duckdb_memory_limit}
        warehouse = Warehouse(sa.create_engine(args.url, connect_args={"read_only": True, "config": config}))
    else:
        warehouse = Warehouse(args.url, read_only=True)
    if args.capture_sql:
        capture_statements(warehouse, args.capture_sql)
    policy_data = (
        json.loads(args.policy_json.read_text())
        if args.policy_json
        else scenario.policy(args.engine, args.rows)
    )
    state = StateStore(args.state_url, schema=args.state_schema) if args.state_url else None
    as_of = scenario.AS_OF - timedelta(days=args.days_before)
    decision = run_gate(parse_policy(policy_data), warehouse, as_of, state=state)
    report(
        {
            "seconds": decision.duration_s,
            "branch": decision.branch.value,
            "queries": decision.queries,
            "rows_fetched": decision.rows_fetched,
            "profile_cache": decision.notes.get("profile_cache"),
            "day_parts": decision.notes.get("day_parts"),
            "outcome_parts": decision.notes.get("outcome_parts"),
            "query_log": [
                (record.purpose, record.rows, round(record.seconds, 3))
                for record in warehouse.query_log.records
                if record.catalog is None  # reflections read the catalog, not the tables
            ],
            "reasons": list(decision.reasons)[:3],
        }
    )


if __name__ == "__main__":
    main()
