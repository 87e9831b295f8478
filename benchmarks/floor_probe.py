"""Subprocess: time the floor, one hand-written aggregate query reading both windows once, and report."""

from __future__ import annotations

import argparse
import time

from benchmarks import scenario
from benchmarks.probe_output import report


def main() -> None:
    """Parse the arguments, run the floor query, report its time."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--engine", choices=["duckdb", "postgresql", "spark"], required=True)
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument(
        "--target", required=True, help="DuckDB file path, PostgreSQL libpq URL or spark:// URL"
    )
    args = parser.parse_args()
    sql = scenario.floor_sql(args.engine, args.rows)
    if args.engine == "duckdb":
        import duckdb

        connection = duckdb.connect(args.target, read_only=True)
        started = time.perf_counter()
        row = connection.execute(sql).fetchone()
    elif args.engine == "spark":
        from pyhive import hive
        from sqlalchemy.engine import make_url

        url = make_url(args.target)
        connection = hive.connect(host=url.host, port=url.port, username=url.username, database=url.database)
        cursor = connection.cursor()
        started = time.perf_counter()
        cursor.execute(sql)
        row = cursor.fetchone()
    else:
        import psycopg2

        connection = psycopg2.connect(args.target)
        with connection.cursor() as cursor:
            started = time.perf_counter()
            cursor.execute(sql)
            row = cursor.fetchone()
    seconds = time.perf_counter() - started
    connection.close()
    assert row is not None
    report({"seconds": seconds, "window_rows": int(row[0]), "rows_fetched": 1})


if __name__ == "__main__":
    main()
