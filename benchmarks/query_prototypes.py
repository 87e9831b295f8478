"""Prototypes of faster profile queries, timed against the gate's own queries on a generated table.

Each prototype returns the same rows as the query it replaces (checked here), so the core can swap it in:

- ``no_distinct``: the summary without ``approx_count_distinct`` (no check reads ``distinct``; DuckDB only,
  PostgreSQL has no such aggregate).
- ``coded``: categorical histogram keys as the tracked value's position (``list_position`` in DuckDB,
  ``array_position`` in PostgreSQL) instead of the raw value or ``CASE WHEN c IN (<top 50>) ...``: an integer
  key is cheaper to compute and to hash; decoded back to the gate's labels here before comparing.

Written against the core of commit 9c11695 (``window_rows``, hashed grouping sets). The first version, which
prototyped the fenced subquery and the hashing that commit adopted, is in commit 78176fd.

    python -m benchmarks.query_prototypes --engine postgresql --rows 10M
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.expression import ColumnElement

from airflow_retrain_gate.core import Warehouse, parse_policy
from airflow_retrain_gate.core.profiling.features import (
    FeatureBinning,
    ProfileSettings,
    _category,
    profile_features,
)
from airflow_retrain_gate.core.profiling.profiles import MISSING, OTHER
from airflow_retrain_gate.core.profiling.queries import grouped, window_rows
from airflow_retrain_gate.core.profiling.table_source import TableSource
from airflow_retrain_gate.core.sql import day_of
from airflow_retrain_gate.core.timeframes import TimeWindow
from benchmarks import scenario
from benchmarks.progress import say
from benchmarks.run import parse_sizes

CODED_MISSING = -2


def coded_category_key(
    column: ColumnElement[Any], tracked: Sequence[str], dialect: str
) -> ColumnElement[Any]:
    """SQL: the position of the value among the tracked categories (0..k-1), -1 for others, -2 for NULL."""
    position = sa.func.list_position if dialect == "duckdb" else sa.func.array_position
    values = sa.literal(list(tracked), sa.ARRAY(sa.String()))
    found = position(values, sa.cast(column, sa.String)) if tracked else sa.null()
    return sa.case((column.is_(None), CODED_MISSING), else_=sa.func.coalesce(found, 0) - 1)


def histogram_query(
    rows: sa.Subquery, binning: FeatureBinning, dialect: str, coded: bool
) -> sa.Select[Any] | sa.CompoundSelect[Any]:
    """The feature profiler's histogram query (features without a segment), or its coded variant."""
    keys: dict[str, ColumnElement[Any]] = {"day": rows.c.day}
    for index, name in enumerate(binning.numeric):
        keys[f"b{index}"] = binning.numeric[name].bucket(rows.c[f"v{index}"])
    for index, name in enumerate(binning.categories):
        column, tracked = rows.c[f"c{index}"], binning.categories[name]
        keys[f"c{index}"] = (
            coded_category_key(column, tracked, dialect)
            if coded
            else _category(column, tracked, None)  # tracked values and OTHER (the IN-list form)
        )
    sets = [("day", key) for key in keys if key != "day"]
    return grouped(rows, [], keys, sets, [sa.func.count().label("n")], True)


def decode(row: dict[str, Any], binning: FeatureBinning, tracked_only: bool) -> dict[str, Any]:
    """A histogram row in comparable form: category codes (or raw values) as the slot labels the profile keeps."""
    decoded = dict(row)
    for index, labels in enumerate(binning.categories.values()):
        key = row.get(f"c{index}")
        if key is None:
            continue
        if isinstance(key, int):
            decoded[f"c{index}"] = MISSING if key == CODED_MISSING else (labels[key] if key >= 0 else OTHER)
        elif tracked_only and key not in (MISSING, *labels):
            decoded[f"c{index}"] = OTHER
    return decoded


def timed(warehouse: Warehouse, query: sa.Executable, repeats: int) -> tuple[float, list[dict[str, Any]]]:
    """Best time of `repeats` runs in the gate's read transaction, and the rows."""
    best = float("inf")
    rows: list[dict[str, Any]] = []
    for _ in range(repeats):
        with warehouse.reading() as connection:
            started = time.perf_counter()
            rows = [dict(row._mapping) for row in connection.execute(query).all()]
            best = min(best, time.perf_counter() - started)
    return best, rows


def per_day(rows: list[dict[str, Any]], columns: list[str]) -> Counter[tuple[Any, ...]]:
    """The per-day rows restricted to `columns`, summed by key (raw values fold into OTHER like the profile's)."""
    totals: Counter[tuple[Any, ...]] = Counter()
    for row in rows:
        if row["day"] is not None:
            totals[tuple(_rounded(row[column]) for column in columns if column != "n")] += row.get("n") or 1
    return totals


def _rounded(value: Any) -> Any:
    """Floats compared to 9 significant digits (aggregation order differs between plans)."""
    return float(f"{value:.9g}") if isinstance(value, float) else value


def print_bounds(warehouse: Warehouse, source: TableSource, window: TimeWindow, repeats: int) -> None:
    """How far below the floor the work itself is: one window's sums against per-day counts and one histogram."""
    where = source.in_window("timestamp", window)
    names = source.mapping.numeric  # type: ignore[attr-defined]
    sums = [sa.func.sum(source.number(f"numeric[{i}]", name)) for i, name in enumerate(names)]
    floor = sa.select(sa.func.count(), *sums).select_from(source.clause).where(*where)
    day = day_of(source.column("timestamp"))
    per_day_rows = (
        sa.select(day.label("day"), sa.func.count()).select_from(source.clause).where(*where).group_by(day)
    )
    print(f"| {window.name} window | seconds |\n|---|---|")
    for label, query in (("floor: count + 10 sums", floor), ("rows per day", per_day_rows)):
        print(f"| {label} | {timed(warehouse, query, repeats)[0]:.3f} |")
    print()


def main() -> None:
    """Time each gate query against its prototype on both windows and check they return the same rows."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--engine", choices=["duckdb", "postgresql"], required=True)
    parser.add_argument("--rows", required=True, help="a generated size, e.g. 10M")
    parser.add_argument("--postgres-url", default="postgresql+psycopg2://postgres@127.0.0.1:5432/test")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rows_in_table = parse_sizes(args.rows)[0]
    url = f"duckdb:///{scenario.duckdb_path(rows_in_table)}" if args.engine == "duckdb" else args.postgres_url
    warehouse = Warehouse(url, read_only=True)
    policy = parse_policy(scenario.policy(args.engine, rows_in_table))
    source = TableSource.bind(warehouse, policy.tables.features, "tables.features")
    mapping = policy.tables.features
    columns: dict[str, Any] = {"day": day_of(source.column("timestamp")), "ts": source.column("timestamp")}
    columns.update({f"v{i}": source.number(f"numeric[{i}]", name) for i, name in enumerate(mapping.numeric)})
    columns.update(
        {f"c{i}": source.named(name, f"categorical[{i}]") for i, name in enumerate(mapping.categorical)}
    )
    reference_window, current_window = (TimeWindow(w.name, w.start, w.end) for w in scenario.windows())
    say("profiling the reference once for the histogram binning")
    reference = profile_features(source, reference_window, None, ProfileSettings())
    binning = FeatureBinning.of(reference)
    print_bounds(warehouse, source, reference_window, args.repeats)
    print("| window | query | gate s | prototype | prototype s | speed-up | same rows |")
    print("|---|---|---|---|---|---|---|")
    for window in (reference_window, current_window):
        rows = window_rows(source.clause, source.in_window("timestamp", window), columns, warehouse.dialect)
        pairs = [
            (
                "histograms",
                histogram_query(rows, binning, warehouse.dialect, coded=False),
                "coded",
                histogram_query(rows, binning, warehouse.dialect, coded=True),
            )
        ]
        for purpose, gate_query, name, prototype in pairs:
            gate_s, gate_rows = timed(warehouse, gate_query, args.repeats)
            prototype_s, prototype_rows = timed(warehouse, prototype, args.repeats)
            if name == "coded":
                gate_rows = [decode(row, binning, tracked_only=True) for row in gate_rows]
                prototype_rows = [decode(row, binning, tracked_only=True) for row in prototype_rows]
            keys = list(prototype_rows[0])
            same = per_day(gate_rows, keys) == per_day(prototype_rows, keys)
            speedup = gate_s / prototype_s
            print(
                f"| {window.name} | {purpose} | {gate_s:.3f} | {name} | {prototype_s:.3f} | {speedup:.1f}x | {same} |"
            )


if __name__ == "__main__":
    main()
