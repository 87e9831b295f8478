"""Wide and high-cardinality tables: the gate's time and peak memory as columns and distinct values grow.

python -m benchmarks.shapes [--rows 1000000] [--columns 25,100,300] [--distinct 1000000]

Two shapes, each a DuckDB file generated in the database (never in Python) under benchmarks/data/:
- **wide**: N rows x C numeric features (normal draws with different means), plus the timestamp; run at each C
  of --columns, so the time per column shows whether the cost grows linearly;
- **high_cardinality**: N rows with one categorical of --distinct distinct 200-character values (every row its
  own value when --distinct equals --rows) beside one numeric feature.
Each gate run is a subprocess (benchmarks/gate_probe.py) under a memory cap, so peak RSS is the gate's own and
an out-of-memory run is reported, not fatal. Results go to benchmarks/results-shapes.json and are printed as a
markdown table for benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from benchmarks import scenario
from benchmarks.datasets import chunks
from benchmarks.measure import gate_probe_command, run_probe
from benchmarks.progress import Progress, say

RESULTS = Path(__file__).resolve().parent / "results-shapes.json"
VALUE_LENGTH = 200
"""Characters of each high-cardinality value: long enough that the values, not their counts, fill memory."""


@dataclass(frozen=True)
class ShapeRun:
    """One gate run on one shape: its size, time, memory and answer (or why it did not finish)."""

    shape: str
    rows: int
    columns: int
    distinct: int
    seconds: float | None
    peak_rss_mb: float
    branch: str | None
    queries: int | None
    failure: str | None


def row_timestamp(rows: int) -> str:
    """SQL: row `i`'s timestamp, rows spread evenly over the benchmark's history in order."""
    step_us = scenario.HISTORY_DAYS * 86_400_000_000 // rows
    start = scenario.AS_OF.replace(tzinfo=None) - timedelta(days=scenario.HISTORY_DAYS)
    return f"TIMESTAMP '{start.isoformat(sep=' ')}' + to_microseconds(i * {step_us})"


def wide_columns(columns: int) -> dict[str, str]:
    """SQL per column of the wide shape: normal draws (Box-Muller) whose means differ by column."""
    return {
        f"num_{index}": f"({index % 17} + sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()))"
        for index in range(columns)
    }


def high_cardinality_columns(distinct: int) -> dict[str, str]:
    """SQL of the high-cardinality shape: a categorical of `distinct` values, 200 characters each."""
    padding = "x" * (VALUE_LENGTH - 12)
    return {
        "num_0": "random()",
        "cat_id": f"lpad(CAST(i % {distinct} AS VARCHAR), 12, '0') || '{padding}'",
    }


def generate(path: Path, rows: int, tables: dict[str, dict[str, str]], finish: Sequence[str] = ()) -> None:
    """Write `rows` rows of each table's column expressions (of the row number `i`), each with the timestamp, to a
    fresh DuckDB file at `path`, then run the `finish` statements; an existing file is reused."""
    import duckdb

    if path.exists():
        say(f"  reusing {path}")
        return
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    bodies = {
        table: ", ".join(
            [
                f"{row_timestamp(rows)} AS {scenario.TIMESTAMP}",
                *(f"{sql} AS {name}" for name, sql in columns.items()),
            ]
        )
        for table, columns in tables.items()
    }
    with duckdb.connect(str(partial)) as connection:
        progress = Progress(f"generate {path.name}", rows)
        for index, (start, end) in enumerate(chunks(rows)):
            for table, body in bodies.items():
                verb = f"CREATE TABLE {table} AS" if index == 0 else f"INSERT INTO {table}"
                connection.execute(f"{verb} SELECT {body} FROM range({start}, {end}) AS t(i)")
            progress.advance(end - start)
        for statement in finish:
            connection.execute(statement)
        connection.execute("CHECKPOINT")
    partial.rename(path)


def measure(
    shape: str, rows: int, path: Path, policy: dict[str, Any], *, memory_cap_mb: float
) -> dict[str, Any]:
    """Run the gate on `path` with `policy` in a probe subprocess; its JSON result, or the failure."""
    policy_file = path.with_suffix(".policy.json")
    policy_file.write_text(json.dumps(policy))
    command = gate_probe_command(path, rows, "--policy-json", str(policy_file))
    outcome = run_probe(command, shape, time_limit_s=1800, memory_cap_mb=memory_cap_mb, expected_s=None)
    result = outcome.result or {}
    return {
        "seconds": result.get("seconds"),
        "peak_rss_mb": result.get("peak_rss_mb", outcome.polled_peak_rss_mb),
        "branch": result.get("branch"),
        "queries": result.get("queries"),
        "failure": outcome.failure,
    }


def markdown(runs: list[ShapeRun]) -> str:
    """The results as a markdown table, with seconds per column for the wide shape."""
    lines = [
        "| shape | rows | columns | distinct values | gate s | s per column | peak RSS MB | branch |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        per_column = f"{run.seconds / run.columns:.2f}" if run.seconds is not None else "-"
        seconds = f"{run.seconds:.1f}" if run.seconds is not None else f"- ({run.failure})"
        lines.append(
            f"| {run.shape} | {run.rows:,} | {run.columns} | {run.distinct:,} | {seconds} | {per_column} | "
            f"{run.peak_rss_mb:,.0f} | {run.branch or '-'} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Generate both shapes, run the gate on each size, write the results and print the table."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--columns", default="25,100,300", help="feature columns of the wide shape")
    parser.add_argument("--distinct", type=int, default=1_000_000, help="distinct values of the categorical")
    parser.add_argument("--memory-cap-gb", type=float, default=8.0)
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    cap = args.memory_cap_gb * 1024
    runs = []
    for count in (int(text) for text in args.columns.split(",") if text):
        path = scenario.DATA_DIR / f"shape-wide-{count}-{scenario.size_label(args.rows)}.duckdb"
        columns = wide_columns(count)
        generate(path, args.rows, {scenario.TABLE: columns})
        policy = scenario.features_policy(f"bench-shape-wide-{count}", scenario.TABLE, list(columns), [])
        say(f"wide: {count} columns x {args.rows:,} rows")
        runs.append(
            ShapeRun(
                "wide", args.rows, count, 0, **measure("wide", args.rows, path, policy, memory_cap_mb=cap)
            )
        )
    path = (
        scenario.DATA_DIR / f"shape-high-cardinality-{args.distinct}-{scenario.size_label(args.rows)}.duckdb"
    )
    generate(path, args.rows, {scenario.TABLE: high_cardinality_columns(args.distinct)})
    say(f"high cardinality: {args.distinct:,} distinct values x {args.rows:,} rows")
    policy = scenario.features_policy("bench-shape-high-cardinality", scenario.TABLE, ["num_0"], ["cat_id"])
    runs.append(
        ShapeRun(
            "high_cardinality",
            args.rows,
            2,
            args.distinct,
            **measure("high_cardinality", args.rows, path, policy, memory_cap_mb=cap),
        )
    )
    args.results.write_text(json.dumps([asdict(run) for run in runs], indent=2) + "\n")
    print(markdown(runs))


if __name__ == "__main__":
    main()
