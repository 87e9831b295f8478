"""Subprocess in benchmarks/.venv-evidently: load both windows into pandas and run Evidently's DataDriftPreset.

This is what a team without the gate would run; it needs pandas<3 and imports nothing from the package.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import pandas as pd

from benchmarks import scenario
from benchmarks.probe_output import report

CSV_PREFIX = "evidently-"


def load_window(engine: str, target: str, rows: int, window: scenario.Window) -> pd.DataFrame:
    """One window's feature columns as a DataFrame, by each engine's fastest path into pandas."""
    sql = scenario.window_sql(engine, rows, window)
    if engine == "duckdb":
        import duckdb

        with duckdb.connect(target, read_only=True) as connection:
            return connection.execute(sql).df()
    import psycopg2

    # COPY to a CSV file and read_csv is pandas' fastest road out of PostgreSQL (read_sql is slower and larger).
    # In DATA_DIR, named so the runner can remove what a killed probe leaves behind.
    with tempfile.NamedTemporaryFile(prefix=CSV_PREFIX, suffix=".csv", dir=scenario.DATA_DIR) as handle:
        connection = psycopg2.connect(target)
        try:
            with connection.cursor() as cursor:
                cursor.copy_expert(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv, HEADER)", handle)
        finally:
            connection.close()
        handle.flush()
        return pd.read_csv(handle.name)


def main() -> None:
    """Parse the arguments, load the windows, run the drift report, report time and peak RSS."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--engine", choices=["duckdb", "postgresql"], required=True)
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--target", required=True, help="DuckDB file path or PostgreSQL libpq URL")
    args = parser.parse_args()

    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    started = time.perf_counter()
    reference_window, current_window = scenario.windows()
    reference = load_window(args.engine, args.target, args.rows, reference_window)
    current = load_window(args.engine, args.target, args.rows, current_window)
    loaded = time.perf_counter()
    definition = DataDefinition(
        numerical_columns=list(scenario.NUMERIC), categorical_columns=list(scenario.CATEGORICAL)
    )
    snapshot = Report([DataDriftPreset()]).run(
        Dataset.from_pandas(current, data_definition=definition),
        Dataset.from_pandas(reference, data_definition=definition),
    )
    drifted = snapshot.dict()["metrics"][0]["value"]
    finished = time.perf_counter()
    report(
        {
            "seconds": finished - started,
            "load_seconds": loaded - started,
            "report_seconds": finished - loaded,
            "rows_fetched": len(reference) + len(current),
            "drifted_columns": drifted.get("count"),
        }
    )


if __name__ == "__main__":
    main()
