"""Profiles the gate's queries: captures the statements of one gate run and prints EXPLAIN ANALYZE of each.

Queries are numbered in the order they were sent (with concurrent queries, not always reference then current);
each heading shows the statement's start. On PostgreSQL the gate's session settings are applied first.

python -m benchmarks.explain --engine postgresql --rows 10M > benchmarks/profiles/postgresql-10M.txt
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks import scenario
from benchmarks.run import parse_sizes


def captured(engine: str, rows: int, url: str) -> tuple[list[str], list[dict[str, Any]]]:
    """Run the gate once (no cache) in a subprocess: the session settings it made and its features queries."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "statements.jsonl"
        command = [
            sys.executable,
            "-m",
            "benchmarks.gate_probe",
            "--engine",
            engine,
            "--rows",
            str(rows),
            "--url",
            url,
        ]
        subprocess.run([*command, "--capture-sql", str(path)], check=True, stdout=subprocess.DEVNULL)
        statements = [json.loads(line) for line in path.read_text().splitlines()]
    table = scenario.qualified_table(engine, rows)
    settings = list(
        dict.fromkeys(item["statement"] for item in statements if item["statement"].startswith("SET "))
    )
    return settings, [item for item in statements if f"FROM {table}" in item["statement"]]


def explain_postgres(libpq_url: str, settings: list[str], statement: str, parameters: Any) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of one statement with its parameters bound, after the gate's own settings."""
    import psycopg2

    connection = psycopg2.connect(libpq_url)
    try:
        with connection.cursor() as cursor:
            for setting in settings:  # e.g. SET LOCAL hash_mem_multiplier: the plan depends on them
                cursor.execute(setting)
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
            return "\n".join(line for (line,) in cursor.fetchall())
    finally:
        connection.close()


def explain_duckdb(path: Path, statement: str, parameters: Any) -> str:
    """The operator tree of one profiled run, one line per operator with its time and rows.

    DuckDB's EXPLAIN ANALYZE draws boxes side by side (hundreds of KB for these queries); its JSON profile is
    rendered here instead.
    """
    import duckdb

    with tempfile.TemporaryDirectory() as folder, duckdb.connect(str(path), read_only=True) as connection:
        output = Path(folder) / "profile.json"
        connection.execute("PRAGMA enable_profiling = 'json'")
        connection.execute(f"PRAGMA profiling_output = '{output}'")
        connection.execute(statement, parameters or None).fetchall()
        profile = json.loads(output.read_text())
    query = profile.get("query", {})
    lines = [f"total {query.get('total_time', 0):.3f}s, cpu {query.get('cpu_time', 0):.3f}s"]
    pending = [(node, 0) for node in reversed(profile["operator"])]
    while pending:
        node, depth = pending.pop()
        info = node.get("extra_info", {})
        detail = info.get("Aggregates") or info.get("Groups") or info.get("Filters") or ""
        lines.append(
            f"{'  ' * depth}{node['name']}: {node['timing']:.3f}s, {node.get('intermediate_rows', 0):,} rows"
            + (f"  [{str(detail)[:160]}]" if detail else "")
        )
        pending += [(child, depth + 1) for child in reversed(node.get("children", []))]
    return "\n".join(lines)


def main() -> None:
    """Capture, explain, print."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--engine", choices=["duckdb", "postgresql"], required=True)
    parser.add_argument("--rows", required=True, help="a generated size, e.g. 10M")
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    rows = parse_sizes(args.rows)[0]
    path = scenario.duckdb_path(rows)
    url = (
        f"duckdb:///{path}"
        if args.engine == "duckdb"
        else args.postgres_url.replace("postgresql://", "postgresql+psycopg2://", 1)
    )
    settings, statements = captured(args.engine, rows, url)
    for index, item in enumerate(statements, start=1):
        if args.engine == "duckdb":
            plan = explain_duckdb(path, item["statement"], item["parameters"])
        else:
            plan = explain_postgres(args.postgres_url, settings, item["statement"], item["parameters"])
        heading = " ".join(item["statement"].split())[:150]
        print(
            f"==== {args.engine} {scenario.size_label(rows)} query {index}: {heading} ...\n{plan}\n",
            flush=True,
        )


if __name__ == "__main__":
    main()
