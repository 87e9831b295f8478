"""Generates the benchmark table inside the database (DuckDB `range()`, PostgreSQL `generate_series`), in chunks.

N rows x 10 numeric + 5 categorical features, spread evenly over HISTORY_DAYS in timestamp order. The
current window carries a deliberate shift (num_3 mean, cat_4 shares) so the gate has something to find.
"""

from __future__ import annotations

import argparse
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

from benchmarks import scenario
from benchmarks.progress import Progress, say

GENERATOR_VERSION = 2
"""Bump when the generated data changes: existing tables are then regenerated."""
CHUNKS = 20
MIN_CHUNK = 250_000


def _normal(mean: float, sd: float) -> str:
    """SQL: a normal draw by Box-Muller (neither engine has one in PostgreSQL 15 / DuckDB core)."""
    return f"({mean} + {sd} * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()))"


def _pick(prefix: str, values: int, skew: float) -> str:
    """SQL: one of `values` labels, skewed towards low indexes by `skew` (1 = uniform)."""
    return f"('{prefix}' || CAST(floor({values} * power(random(), {skew})) AS INTEGER))"


def select_rows(engine: str, rows: int) -> str:
    """SQL: the generated columns, from a row number `i` supplied by the engine's series function."""
    step_us = scenario.HISTORY_DAYS * 86_400_000_000 // rows
    start = (scenario.AS_OF.replace(tzinfo=None) - timedelta(days=scenario.HISTORY_DAYS)).isoformat(sep=" ")
    offset = f"i * {step_us}"
    stamp = (
        f"TIMESTAMP '{start}' + to_microseconds({offset})"
        if engine == "duckdb"
        else f"TIMESTAMP '{start}' + ({offset}) * INTERVAL '1 microsecond'"
    )
    current = f"(i >= {rows * (scenario.HISTORY_DAYS + scenario.CURRENT_DAYS[0]) // scenario.HISTORY_DAYS})"
    columns = {
        "event_ts": stamp,
        "num_0": _normal(50, 10),
        "num_1": f"exp({_normal(3, 0.5)})",
        "num_2": "random()",
        "num_3": f"CASE WHEN {current} THEN {_normal(0.5, 1)} ELSE {_normal(0, 1)} END",
        "num_4": "floor(-3 * ln(1 - random()))",
        "num_5": f"CASE WHEN random() < 0.02 THEN NULL ELSE {_normal(100, 15)} END",
        "num_6": "CASE WHEN random() < 0.3 THEN 1.0 ELSE 0.0 END",
        "num_7": "-1000 * ln(1 - random())",
        "num_8": _normal(-5, 2),
        "num_9": "round(CAST(200 * random() - 100 AS NUMERIC), 2)",
        "cat_0": _pick("a", 3, 1.5),
        "cat_1": _pick("b", 12, 1.0),
        "cat_2": f"CASE WHEN random() < 0.01 THEN NULL ELSE {_pick('c', 50, 2.0)} END",
        "cat_3": _pick("d", 1000, 3.0),
        "cat_4": f"CASE WHEN {current} THEN {_pick('e', 5, 0.6)} ELSE {_pick('e', 5, 1.0)} END",
    }
    return ", ".join(
        f"CAST({expression} AS {_type(engine, name)}) AS {name}" for name, expression in columns.items()
    )


def _type(engine: str, column: str) -> str:
    if column == scenario.TIMESTAMP:
        return "TIMESTAMP"
    if column.startswith("cat_"):
        return "VARCHAR" if engine == "duckdb" else "TEXT"
    return "DOUBLE" if engine == "duckdb" else "DOUBLE PRECISION"


def _create_table(engine: str, name: str) -> str:
    columns = (scenario.TIMESTAMP, *scenario.NUMERIC, *scenario.CATEGORICAL)
    # UNLOGGED only skips the write-ahead log while loading; reads are the same as a logged table's.
    kind = "TABLE" if engine == "duckdb" else "UNLOGGED TABLE"
    return f"CREATE {kind} {name} ({', '.join(f'{column} {_type(engine, column)}' for column in columns)})"


def chunks(rows: int) -> list[tuple[int, int]]:
    """Row ranges [start, end) to insert one statement at a time, for progress and bounded memory."""
    size = max(rows // CHUNKS, MIN_CHUNK)
    return [(start, min(start + size, rows)) for start in range(0, rows, size)]


def ensure_duckdb(rows: int) -> Path:
    """Create the DuckDB warehouse of `rows` rows unless a complete one exists; returns its path."""
    import duckdb

    path = scenario.duckdb_path(rows)
    if path.exists():
        with duckdb.connect(str(path), read_only=True) as connection:
            if _complete(connection, "_bench_meta", rows):
                say(f"  duckdb {scenario.size_label(rows)}: reusing {path}")
                return path
        path.unlink()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    with duckdb.connect(str(partial)) as connection:
        connection.execute(_create_table("duckdb", scenario.TABLE))
        progress = Progress(f"generate duckdb {scenario.size_label(rows)}", rows)
        body = select_rows("duckdb", rows)
        for start, end in chunks(rows):
            connection.execute(
                f"INSERT INTO {scenario.TABLE} SELECT {body} FROM range({start}, {end}) AS t(i)"
            )
            progress.advance(end - start)
        connection.execute(
            "CREATE TABLE _bench_meta AS SELECT ? AS rows, ? AS version", [rows, GENERATOR_VERSION]
        )
        connection.execute("CHECKPOINT")
    partial.rename(path)
    return path


def ensure_postgres(url: str, rows: int) -> str:
    """Create the PostgreSQL schema of `rows` rows unless a complete one exists; returns the schema."""
    import psycopg2

    schema = scenario.postgres_schema(rows)
    connection = psycopg2.connect(url)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            if _complete(cursor, f"{schema}._bench_meta", rows):
                say(f"  postgresql {scenario.size_label(rows)}: reusing schema {schema}")
                return schema
            cursor.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            cursor.execute(f"CREATE SCHEMA {schema}")
            table = f"{schema}.{scenario.TABLE}"
            cursor.execute(_create_table("postgresql", table))
            progress = Progress(f"generate postgresql {scenario.size_label(rows)}", rows)
            body = select_rows("postgresql", rows)
            for start, end in chunks(rows):
                cursor.execute(
                    f"INSERT INTO {table} SELECT {body} FROM generate_series({start}::bigint, {end - 1}) AS t(i)"
                )
                progress.advance(end - start)
            say(
                f"  postgresql {scenario.size_label(rows)}: BRIN and btree indexes on {scenario.TIMESTAMP},"
                " VACUUM ANALYZE"
            )
            # Append-only event tables are in timestamp order; a BRIN index lets both the gate and the floor
            # skip the pages outside the windows, as a DuckDB zonemap does without being asked. Event tables
            # mostly carry a btree on their timestamp too, for reads by time: the gate counts days from it.
            cursor.execute(f"CREATE INDEX ON {table} USING brin ({scenario.TIMESTAMP})")
            cursor.execute(f"CREATE INDEX ON {table} ({scenario.TIMESTAMP})")
            cursor.execute(f"VACUUM (ANALYZE) {table}")
            cursor.execute(
                f"CREATE TABLE {schema}._bench_meta AS SELECT {rows}::bigint AS rows, {GENERATOR_VERSION} AS version"
            )
    finally:
        connection.close()
    return schema


def ensure_spark(url: str, rows: int) -> str:
    """Expose the DuckDB table of `rows` rows to Spark SQL as a Parquet table (copied once from the DuckDB file,
    in timestamp order, so Parquet's row-group statistics let Spark skip what lies outside the windows)."""
    import duckdb

    from airflow_retrain_gate.core.engines import create_engine

    path = ensure_duckdb(rows)
    folder = scenario.parquet_dir(rows)
    marker = folder / "_complete"  # Spark ignores files whose names start with '_'
    if not marker.exists():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        with duckdb.connect(str(path), read_only=True) as connection:
            connection.execute(f"COPY {scenario.TABLE} TO '{folder / 'part-0.parquet'}' (FORMAT parquet)")
        marker.touch()
    schema = scenario.postgres_schema(rows)
    engine = create_engine(url)
    with engine.connect() as connection:
        connection.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        connection.exec_driver_sql(f"DROP TABLE IF EXISTS {schema}.{scenario.TABLE}")
        connection.exec_driver_sql(
            f"CREATE TABLE {schema}.{scenario.TABLE} USING parquet LOCATION '{folder}'"
        )
    engine.dispose()
    return schema


def drop_postgres(url: str, rows: int) -> None:
    """Drop the PostgreSQL schemas of one size, table and gate state (to free disk after a run)."""
    import psycopg2

    connection = psycopg2.connect(url)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            for schema in (scenario.postgres_schema(rows), scenario.state_schema(rows)):
                cursor.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    finally:
        connection.close()


def _complete(cursor: Any, meta_table: str, rows: int) -> bool:
    """Whether a finished generation of the same size and generator version left its marker."""
    try:
        cursor.execute(f"SELECT rows, version FROM {meta_table}")
        marker = cursor.fetchone()
    except Exception:  # noqa: BLE001 - no marker table (autocommit or read-only: nothing to roll back)
        return False
    return marker is not None and int(marker[0]) == rows and int(marker[1]) == GENERATOR_VERSION


def main() -> None:
    """Generate one engine's table of one size (a subprocess of the runner, so its memory stays the generator's)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--engine", choices=["duckdb", "postgresql", "spark"], required=True)
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--spark-url", help="the spark:// URL of a running Thrift server")
    args = parser.parse_args()
    if args.engine == "duckdb":
        ensure_duckdb(args.rows)
    elif args.engine == "spark":
        ensure_spark(args.spark_url, args.rows)
    else:
        ensure_postgres(args.postgres_url, args.rows)


if __name__ == "__main__":
    main()
