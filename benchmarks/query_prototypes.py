"""Prototypes of faster profile queries, timed against the gate's own queries on a generated table.

Each prototype returns the same rows as the query it replaces (checked here), so the core can swap it in:

- ``fenced``: PostgreSQL estimates as many groups as rows for ``CAST(ts AS DATE)`` and histogram buckets
  (it uses the continuous column's distinct count), so it sorts, spills to disk and re-sorts per grouping
  set. Projecting the keys in a subquery behind ``OFFSET 0`` makes it use its default estimate (200 per
  key); with ``SET LOCAL work_mem = '256MB'`` it then hashes all grouping sets in one pass (the hash
  tables really use ~25 MB: days x bins are few; PostgreSQL 13+ spills to disk past the limit anyway).
- ``no_distinct``: the summary without ``approx_count_distinct`` (no check reads ``distinct``).
- ``coded``: categorical histogram keys as the tracked value's position (``list_position`` in DuckDB,
  ``array_position`` in PostgreSQL) instead of ``CASE WHEN c IN (<top 50>) THEN c ELSE '__other__'``: an
  integer key is cheaper to compute and to hash; decoded back to the labels here before comparing.

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
from airflow_retrain_gate.core.feature_profiler import FeatureBinning, ProfileSettings, profile_features
from airflow_retrain_gate.core.profile_queries import category_key, grouped, summary_query
from airflow_retrain_gate.core.profiles import MISSING, OTHER
from airflow_retrain_gate.core.sources import TableSource
from airflow_retrain_gate.core.sql import approx_distinct, day_of, population_variance
from airflow_retrain_gate.core.timeframes import TimeWindow
from benchmarks import scenario
from benchmarks.progress import say
from benchmarks.run import parse_sizes

CODED_MISSING = -2
PG_WORK_MEM = "256MB"
"""What the planner needs to choose hashing for 15 grouping sets at its default estimates (64MB still sorts one
set); set per transaction only."""


def fenced_grouped(
    source: sa.FromClause,
    where: list[ColumnElement[bool]],
    keys: dict[str, ColumnElement[Any]],
    sets: list[tuple[str, ...]],
    measures: list[ColumnElement[Any]],
) -> sa.Select[Any]:
    """Like core ``grouped`` with GROUPING SETS, over a subquery that projects the keys behind ``OFFSET 0``.

    `measures` must not read table columns (``count(*)`` as in the histograms), since only the keys are projected.
    """
    projected = sa.select(*[expression.label(name) for name, expression in keys.items()]).select_from(source)
    inner = projected.where(*where).offset(0).subquery("keyed")
    clauses = [sa.tuple_(*[inner.c[name] for name in group]) for group in sets]
    return sa.select(*inner.c, *measures).group_by(sa.func.grouping_sets(*clauses))


def fenced_summary_query(
    source: sa.FromClause,
    where: list[ColumnElement[bool]],
    timestamp: ColumnElement[Any],
    numeric: list[ColumnElement[Any]],
    categorical: list[ColumnElement[Any]],
    with_distinct: bool,
) -> sa.Select[Any]:
    """Like core ``summary_query``, grouping on a day computed in a subquery behind ``OFFSET 0``."""
    columns = [day_of(timestamp).label("day"), timestamp.label("ts")]
    columns += [value.label(f"v{index}") for index, value in enumerate(numeric)]
    columns += [value.label(f"k{index}") for index, value in enumerate(categorical)]
    inner = sa.select(*columns).select_from(source).where(*where).offset(0).subquery("daily")
    measures: list[ColumnElement[Any]] = [
        sa.func.count().label("rows"),
        sa.func.max(inner.c.ts).label("max_ts"),
    ]
    for index in range(len(numeric)):
        value = inner.c[f"v{index}"]
        measures += [
            sa.func.count(value).label(f"n{index}"),
            sa.func.avg(value).label(f"mean{index}"),
            population_variance(value).label(f"var{index}"),
            sa.func.min(value).label(f"min{index}"),
            sa.func.max(value).label(f"max{index}"),
        ]
        if with_distinct:
            measures.append(approx_distinct(value).label(f"nd{index}"))
    for index in range(len(categorical)):
        measures.append(sa.func.count(inner.c[f"k{index}"]).label(f"c{index}"))
        if with_distinct:
            measures.append(approx_distinct(inner.c[f"k{index}"]).label(f"cd{index}"))
    query = sa.select(inner.c.day, *measures)
    if with_distinct:
        return query.group_by(sa.func.grouping_sets(sa.tuple_(inner.c.day), sa.tuple_()))
    return query.group_by(inner.c.day)


def coded_category_key(
    column: ColumnElement[Any], tracked: Sequence[str], dialect: str
) -> ColumnElement[Any]:
    """SQL: the position of the value among the tracked categories (0..k-1), -1 for others, -2 for NULL."""
    position = sa.func.list_position if dialect == "duckdb" else sa.func.array_position
    values = sa.literal(list(tracked), sa.ARRAY(sa.String()))
    found = position(values, sa.cast(column, sa.String)) if tracked else sa.null()
    return sa.case((column.is_(None), CODED_MISSING), else_=sa.func.coalesce(found, 0) - 1)


def decode(row: dict[str, Any], binning: FeatureBinning, names: list[str]) -> dict[str, Any]:
    """A coded histogram row with its category codes turned back into the labels the gate's query returns."""
    decoded = dict(row)
    for index, name in enumerate(names):
        code = row.get(f"c{index}")
        if code is not None:
            labels = binning.categories[name]
            decoded[f"c{index}"] = (
                MISSING if code == CODED_MISSING else (labels[code] if code >= 0 else OTHER)
            )
    return decoded


def histogram_keys(
    source: TableSource, binning: FeatureBinning, coded: bool = False
) -> tuple[dict[str, ColumnElement[Any]], list[tuple[str, ...]]]:
    """The histogram keys and grouping sets the feature profiler builds (features without a segment)."""
    mapping = source.mapping
    keys: dict[str, ColumnElement[Any]] = {"day": day_of(source.column("timestamp"))}
    for index, name in enumerate(mapping.numeric):  # type: ignore[attr-defined]
        keys[f"b{index}"] = binning.numeric[name].bucket(source.number(f"numeric[{index}]", name))
    for index, name in enumerate(mapping.categorical):  # type: ignore[attr-defined]
        column = source.named(name, f"categorical[{index}]")
        tracked = binning.categories[name]
        keys[f"c{index}"] = (
            coded_category_key(column, tracked, source.warehouse.dialect)
            if coded
            else category_key(column, tracked)
        )
    return keys, [("day", key) for key in keys if key != "day"]


def timed(
    warehouse: Warehouse, query: sa.Executable, settings: list[str], repeats: int
) -> tuple[float, list[dict[str, Any]]]:
    """Best time of `repeats` runs in a read transaction with `settings` applied, and the rows."""
    best = float("inf")
    rows: list[dict[str, Any]] = []
    for _ in range(repeats):
        with warehouse.reading() as connection:
            for setting in settings:
                connection.exec_driver_sql(setting)
            started = time.perf_counter()
            rows = [dict(row._mapping) for row in connection.execute(query).all()]
            best = min(best, time.perf_counter() - started)
    return best, rows


def per_day(rows: list[dict[str, Any]], columns: list[str]) -> Counter[tuple[Any, ...]]:
    """The per-day rows restricted to `columns`, as a multiset (the summary's whole-window row is left out)."""
    return Counter(
        tuple(_rounded(row[column]) for column in columns) for row in rows if row["day"] is not None
    )


def _rounded(value: Any) -> Any:
    """Floats compared to 9 significant digits (aggregation order differs between plans)."""
    return float(f"{value:.9g}") if isinstance(value, float) else value


def print_bounds(
    warehouse: Warehouse,
    source: TableSource,
    window: TimeWindow,
    keys: dict[str, ColumnElement[Any]],
    settings: list[str],
    repeats: int,
) -> None:
    """How far below the floor the work itself is: one window's sums against one per-day histogram and counts."""
    where = source.in_window("timestamp", window)
    sums = [
        sa.func.sum(source.number(f"numeric[{i}]", name)) for i, name in enumerate(source.mapping.numeric)
    ]  # type: ignore[attr-defined]
    floor = sa.select(sa.func.count(), *sums).select_from(source.clause).where(*where)
    day = keys["day"].label("day")
    per_day = sa.select(day, sa.func.count()).select_from(source.clause).where(*where).group_by(keys["day"])
    one = fenced_grouped(
        source.clause, where, {"day": keys["day"], "b0": keys["b0"]}, [("day", "b0")], [sa.func.count()]
    )
    print(f"| {window.name} window | seconds |\n|---|---|")
    for label, query in (
        ("floor: count + 10 sums", floor),
        ("rows per day", per_day),
        ("one histogram (day, num_0 bucket)", one),
    ):
        print(f"| {label} | {timed(warehouse, query, settings, repeats)[0]:.3f} |")
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
    rows = parse_sizes(args.rows)[0]
    url = f"duckdb:///{scenario.duckdb_path(rows)}" if args.engine == "duckdb" else args.postgres_url
    warehouse = Warehouse(url, read_only=True)
    policy = parse_policy(scenario.policy(args.engine, rows))
    source = TableSource.bind(warehouse, policy.tables.features, "tables.features")
    numeric = [source.number(f"numeric[{i}]", name) for i, name in enumerate(policy.tables.features.numeric)]
    categorical = [
        source.named(name, f"categorical[{i}]") for i, name in enumerate(policy.tables.features.categorical)
    ]
    timestamp = source.column("timestamp")
    reference_window, current_window = (TimeWindow(w.name, w.start, w.end) for w in scenario.windows())
    say("profiling the reference once for the histogram binning")
    binning = FeatureBinning.of(profile_features(source, reference_window, None, ProfileSettings()))
    keys, sets = histogram_keys(source, binning)
    coded_keys, _ = histogram_keys(source, binning, coded=True)
    distinct = warehouse.supports_approx_distinct
    postgres = args.engine == "postgresql"
    settings = [f"SET LOCAL work_mem = '{PG_WORK_MEM}'"] if postgres else []
    count = [sa.func.count().label("n")]
    names = list(policy.tables.features.categorical)
    print_bounds(warehouse, source, reference_window, keys, settings, args.repeats)
    print("| window | query | gate s | prototype | prototype s | speed-up | same rows |")
    print("|---|---|---|---|---|---|---|")
    for window in (reference_window, current_window):
        where = source.in_window("timestamp", window)
        summary = summary_query(source.clause, where, timestamp, numeric, categorical, distinct)
        histograms = grouped(source.clause, where, keys, sets, count, True)
        if postgres:
            prototypes = [
                (
                    summary,
                    "fenced",
                    fenced_summary_query(source.clause, where, timestamp, numeric, categorical, False),
                ),
                (histograms, "fenced", fenced_grouped(source.clause, where, keys, sets, count)),
                (histograms, "fenced + coded", fenced_grouped(source.clause, where, coded_keys, sets, count)),
            ]
        else:
            prototypes = [
                (
                    summary,
                    "no_distinct",
                    summary_query(source.clause, where, timestamp, numeric, categorical, False),
                ),
                (histograms, "coded", grouped(source.clause, where, coded_keys, sets, count, True)),
            ]
        gate_times: dict[int, tuple[float, list[dict[str, Any]]]] = {}
        for gate_query, name, prototype in prototypes:
            if id(gate_query) not in gate_times:
                gate_times[id(gate_query)] = timed(warehouse, gate_query, [], args.repeats)
            gate_s, gate_rows = gate_times[id(gate_query)]
            prototype_s, prototype_rows = timed(warehouse, prototype, settings, args.repeats)
            prototype_rows = (
                [decode(row, binning, names) for row in prototype_rows] if "coded" in name else prototype_rows
            )
            columns = list(prototype_rows[0])
            same = per_day(gate_rows, columns) == per_day(prototype_rows, columns)
            purpose = "summary" if gate_query is summary else "histograms"
            speedup = gate_s / prototype_s
            print(
                f"| {window.name} | {purpose} | {gate_s:.3f} | {name} | {prototype_s:.3f} | {speedup:.1f}x | {same} |"
            )


if __name__ == "__main__":
    main()
