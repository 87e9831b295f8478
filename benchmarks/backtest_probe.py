"""Subprocess: replay the benchmark's policy as of each of the last BACKTEST_DATES days and report the time."""

from __future__ import annotations

import argparse
import time
from collections import Counter
from datetime import timedelta

from airflow_retrain_gate.core import Warehouse, parse_policy
from airflow_retrain_gate.core.backtest import dates_every, replay
from benchmarks import scenario
from benchmarks.probe_output import report


def main() -> None:
    """Parse the arguments, replay the dates, report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--engine", choices=["duckdb", "postgresql", "spark"], required=True)
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--url", required=True, help="warehouse SQLAlchemy URL")
    parser.add_argument("--dates", type=int, default=scenario.BACKTEST_DATES)
    args = parser.parse_args()

    warehouse = Warehouse(args.url, read_only=True)
    dates = dates_every(scenario.AS_OF - timedelta(days=args.dates - 1), scenario.AS_OF, timedelta(days=1))
    started = time.perf_counter()
    timeline = replay(parse_policy(scenario.policy(args.engine, args.rows)), warehouse, dates)
    report(
        {
            "seconds": time.perf_counter() - started,
            "dates": len(timeline),
            "branches": dict(Counter(day.branch.value for day in timeline)),
        }
    )


if __name__ == "__main__":
    main()
