"""The benchmark's table, windows and policy: one place every probe reads, importable without the package."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

AS_OF = datetime(2025, 6, 1, tzinfo=UTC)
HISTORY_DAYS = 70
"""Rows are spread evenly over the 70 days before AS_OF, in timestamp order (an append-only event table)."""
REFERENCE_DAYS = (-63, -35)
CURRENT_DAYS = (-7, 0)
BACKTEST_DATES = 90
"""Daily decisions a benchmark backtest replays, ending at AS_OF (the earliest see windows before the data)."""
TABLE = "features"
TIMESTAMP = "event_ts"
NUMERIC = tuple(f"num_{index}" for index in range(10))
CATEGORICAL = tuple(f"cat_{index}" for index in range(5))
NAMESPACE = os.environ.get("RETRAIN_GATE_BENCH_NAMESPACE", "bench")
"""Prefix of the PostgreSQL schemas; the smoke test sets its own so concurrent runs never share tables."""
DATA_DIR = Path(os.environ.get("RETRAIN_GATE_BENCH_DATA", Path(__file__).resolve().parent / "data"))
"""Where DuckDB files, state files and quick results go (git-ignored)."""


@dataclass(frozen=True)
class Window:
    """A half-open UTC range [start, end) of the benchmark."""

    name: str
    start: datetime
    end: datetime


def windows() -> tuple[Window, Window]:
    """The reference and current windows at AS_OF."""
    reference = Window(
        "reference", AS_OF + timedelta(days=REFERENCE_DAYS[0]), AS_OF + timedelta(days=REFERENCE_DAYS[1])
    )
    current = Window(
        "current", AS_OF + timedelta(days=CURRENT_DAYS[0]), AS_OF + timedelta(days=CURRENT_DAYS[1])
    )
    return reference, current


def window_share() -> float:
    """The fraction of the table's rows the two windows hold together."""
    return ((REFERENCE_DAYS[1] - REFERENCE_DAYS[0]) + (CURRENT_DAYS[1] - CURRENT_DAYS[0])) / HISTORY_DAYS


def size_label(rows: int) -> str:
    """100000 -> '100k', 10000000 -> '10M'."""
    for unit, size in (("B", 10**9), ("M", 10**6), ("k", 10**3)):
        if rows >= size and rows % (size // 10) == 0:
            text = f"{rows / size:.1f}".removesuffix(".0")
            return f"{text}{unit}"
    return str(rows)


def postgres_schema(rows: int) -> str:
    """The PostgreSQL schema holding the table of one size."""
    return f"{NAMESPACE}_{size_label(rows).lower()}"


def state_schema(rows: int) -> str:
    """The PostgreSQL schema of the gate's state (reference-profile cache) for one size."""
    return f"{NAMESPACE}_state_{size_label(rows).lower()}"


def parquet_dir(rows: int) -> Path:
    """The Parquet copy of one size's DuckDB table, which Spark SQL reads."""
    return DATA_DIR / f"parquet-{size_label(rows)}"


def duckdb_path(rows: int) -> Path:
    """The DuckDB file of one size."""
    return DATA_DIR / f"warehouse-{size_label(rows)}.duckdb"


def qualified_table(engine: str, rows: int) -> str:
    """The table name the policy maps: plain in DuckDB (one file per size), schema-qualified elsewhere."""
    return TABLE if engine == "duckdb" else f"{postgres_schema(rows)}.{TABLE}"


def policy(engine: str, rows: int) -> dict[str, Any]:
    """A features-only policy watching all 15 columns over the reference and current windows."""
    return features_policy(
        f"bench-{engine}-{size_label(rows)}", qualified_table(engine, rows), list(NUMERIC), list(CATEGORICAL)
    )


def features_policy(name: str, table: str, numeric: list[str], categorical: list[str]) -> dict[str, Any]:
    """A features-only policy named `name` watching the given columns of `table` over the benchmark's windows."""
    return {
        "name": name,
        "windows": {
            "reference": {"start": f"{REFERENCE_DAYS[0]}d", "end": f"{REFERENCE_DAYS[1]}d"},
            "current": {"start": f"{CURRENT_DAYS[0]}d", "end": f"{CURRENT_DAYS[1]}d"},
        },
        "tables": {
            "features": {
                "table": table,
                "timestamp": TIMESTAMP,
                "numeric": numeric,
                "categorical": categorical,
            }
        },
    }


def window_predicate(window: Window, engine: str) -> str:
    """SQL: the rows of one window (timestamps are naive UTC in the benchmark tables: Spark's TIMESTAMP_NTZ)."""
    start, end = (moment.strftime("%Y-%m-%d %H:%M:%S") for moment in (window.start, window.end))
    kind = "TIMESTAMP_NTZ" if engine == "spark" else "TIMESTAMP"
    return f"({TIMESTAMP} >= {kind} '{start}' AND {TIMESTAMP} < {kind} '{end}')"


def floor_sql(engine: str, rows: int) -> str:
    """The floor: one aggregate query reading both windows once (count, a sum per numeric, a count per category)."""
    reference, current = windows()
    sums = ", ".join(f"sum({name})" for name in NUMERIC)
    counts = ", ".join(f"count({name})" for name in CATEGORICAL)
    where = f"{window_predicate(reference, engine)} OR {window_predicate(current, engine)}"
    return f"SELECT count(*), {sums}, {counts} FROM {qualified_table(engine, rows)} WHERE {where}"


def window_sql(engine: str, rows: int, window: Window) -> str:
    """SQL: every feature column of one window, as a pandas-based tool loads it."""
    columns = ", ".join((*NUMERIC, *CATEGORICAL))
    return f"SELECT {columns} FROM {qualified_table(engine, rows)} WHERE {window_predicate(window, engine)}"
