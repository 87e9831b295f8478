"""A full policy's daily run: features, scores and labels that keep arriving, cold and steady.

python -m benchmarks.full_policy [--rows 5000000]

One DuckDB file under benchmarks/data/, generated in the database (never in Python): N scored entities spread
over the benchmark's 70 days (shapes.py generates them), a features row per entity (two numeric features and a categorical), a prediction
with a score in [0, 1], and an outcome whose label arrives 0 to 3 days after its prediction. The policy maps all
three tables, so every check runs: the outcome checks on the judged windows, residual drift by feature bin and
duplicate keys. Each gate run is a subprocess (benchmarks/gate_probe.py) with a fresh state database:

- **cold**: the first run (no cached part);
- **steady**: the run as of the next day, after a run as of the day before (yesterday's parts are cached, one
  new day arrived in each window, and the labels of the last three days' predictions kept arriving).

Results go to benchmarks/results-full-policy.json and are printed as a markdown table for benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

from benchmarks import scenario, shapes
from benchmarks.measure import gate_probe_command, run_probe
from benchmarks.progress import say

RESULTS = Path(__file__).resolve().parent / "results-full-policy.json"
LABEL_DELAY_DAYS = 3
"""A label arrives up to this many days after its prediction."""


def generate(path: Path, rows: int) -> None:
    """Write the three tables of `rows` entities to a fresh DuckDB file at `path` (kept and reused)."""
    delay_us = LABEL_DELAY_DAYS * 86_400_000_000
    shapes.generate(
        path,
        rows,
        {
            "features": {
                "entity_id": "i",
                "num_0": "random()",
                "num_1": "10 + random() * 5",
                "cat_0": "'c' || CAST(i % 7 AS VARCHAR)",
            },
            "predictions": {"entity_id": "i", "score": "1 / (1 + exp(-(random() * 4 - 2)))"},
        },
        [
            "CREATE TABLE outcomes AS SELECT entity_id, CAST(random() < score AS INTEGER) AS label, "
            f"{scenario.TIMESTAMP} + to_microseconds(CAST(random() * {delay_us} AS BIGINT)) AS label_ts "
            "FROM predictions ORDER BY label_ts"
        ],
    )


def policy() -> dict[str, Any]:
    """The benchmark's windows over the three tables."""
    features = scenario.features_policy("bench-full-policy", "features", ["num_0", "num_1"], ["cat_0"])
    features["tables"]["features"]["entity"] = "entity_id"
    features["tables"]["predictions"] = {
        "table": "predictions",
        "timestamp": scenario.TIMESTAMP,
        "entity": "entity_id",
        "score": "score",
    }
    features["tables"]["outcomes"] = {
        "table": "outcomes",
        "entity": "entity_id",
        "label": "label",
        "label_timestamp": "label_ts",
    }
    return features


def gate(path: Path, rows: int, policy_file: Path, state: Path, days_before: int) -> dict[str, Any]:
    """One gate run as of `days_before` days before the benchmark's as_of, with the state database `state`."""
    command = gate_probe_command(
        path,
        rows,
        "--policy-json",
        str(policy_file),
        "--state-url",
        f"sqlite:///{state}",
        "--days-before",
        str(days_before),
    )
    outcome = run_probe(command, "full policy", time_limit_s=1800, memory_cap_mb=8192, expected_s=None)
    if outcome.result is None:
        raise RuntimeError(f"the gate did not finish: {outcome.failure}")
    return outcome.result


def main(argv: list[str] | None = None) -> None:
    """Generate the tables, time a cold and a steady run (best of --repeats each), write and print the results."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    path = scenario.DATA_DIR / f"full-policy-{scenario.size_label(args.rows)}.duckdb"
    generate(path, args.rows)
    policy_file = path.with_suffix(".policy.json")
    policy_file.write_text(json.dumps(policy()))
    cold, steady = [], []
    for repeat in range(args.repeats):
        say(f"full policy, {args.rows:,} rows: repeat {repeat + 1} of {args.repeats}")
        with tempfile.TemporaryDirectory() as folder:
            cold.append(gate(path, args.rows, policy_file, Path(folder) / "cold.sqlite", 0))
            gate(path, args.rows, policy_file, Path(folder) / "steady.sqlite", 1)
            steady.append(gate(path, args.rows, policy_file, Path(folder) / "steady.sqlite", 0))
    best_cold = min(cold, key=lambda run: run["seconds"])
    best_steady = min(steady, key=lambda run: run["seconds"])
    result = {
        "rows": args.rows,
        "cold_s": best_cold["seconds"],
        "steady_s": best_steady["seconds"],
        "cold_queries": best_cold["queries"],
        "steady_queries": best_steady["queries"],
        "branch": best_steady["branch"],
        "steady_parts": {
            "day_parts": best_steady["day_parts"],
            "outcome_parts": best_steady["outcome_parts"],
        },
    }
    args.results.write_text(json.dumps(result, indent=2) + "\n")
    print("| rows | cold run s (queries) | steady daily run s (queries) | steady / cold | branch |")
    print("|---|---|---|---|---|")
    print(
        f"| {args.rows:,} | {result['cold_s']:.2f} ({result['cold_queries']}) | {result['steady_s']:.2f} "
        f"({result['steady_queries']}) | {result['steady_s'] / result['cold_s']:.2f}x | {result['branch']} |"
    )


if __name__ == "__main__":
    main()
