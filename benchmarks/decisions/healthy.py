"""False alarms on healthy tables: the gate on the healthy story at many seeds and sizes, counted by branch.

python -m benchmarks.decisions.healthy --seeds 100 --rows-per-day 200,1500

Each seed draws a new healthy world (nothing changes between the windows); every branch but `skip` is a false
alarm. The table printed names the checks that raised them, so a new check that fires on noise shows up here.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from airflow_retrain_gate.core import Branch, Warehouse, parse_policy, run_gate
from airflow_retrain_gate.demo.catalog import DEMO_AS_OF
from airflow_retrain_gate.demo.loading import load_tables
from airflow_retrain_gate.demo.stories import build_story, story_policy

STORY = "healthy"


@dataclass
class Tally:
    """The branches the gate took on healthy worlds of one size, and the checks behind each false alarm."""

    rows_per_day: int
    branches: Counter[str] = field(default_factory=Counter)
    alarm_checks: Counter[str] = field(default_factory=Counter)

    @property
    def runs(self) -> int:
        """How many seeds were diagnosed."""
        return sum(self.branches.values())

    @property
    def false_alarm_rate(self) -> float:
        """The share of runs that did not skip."""
        return 1 - self.branches[Branch.SKIP.value] / self.runs if self.runs else 0.0

    def to_dict(self) -> dict[str, object]:
        """JSON form."""
        return {
            "rows_per_day": self.rows_per_day,
            "runs": self.runs,
            "false_alarm_rate": self.false_alarm_rate,
            "branches": dict(self.branches),
            "alarm_checks": dict(self.alarm_checks),
        }


def diagnose_seeds(rows_per_day: int, seeds: range, folder: Path) -> Tally:
    """Build a healthy world per seed in one DuckDB file and tally the gate's branches."""
    url = f"duckdb:///{folder / f'healthy_{rows_per_day}.duckdb'}"
    tally = Tally(rows_per_day)
    for seed in seeds:
        prefix = f"s{seed}_"
        load_tables(url, build_story(STORY, seed=seed, rows_per_day=rows_per_day), prefix=prefix)
        decision = run_gate(parse_policy(story_policy(STORY, prefix=prefix)), Warehouse(url), DEMO_AS_OF)
        tally.branches[decision.branch.value] += 1
        if decision.branch is not Branch.SKIP:
            tally.alarm_checks.update(decision.deciding_checks)
            print(f"  seed {seed}, {rows_per_day}/day: {decision.headline()}", file=sys.stderr)
    return tally


def markdown(tallies: list[Tally]) -> str:
    """The tallies as a markdown table."""
    lines = [
        "| rows a day | seeds | skip | false alarms | rate | checks that raised them |",
        "|---|---|---|---|---|---|",
    ]
    for tally in tallies:
        checks = ", ".join(f"{name} ({count})" for name, count in tally.alarm_checks.most_common()) or "-"
        alarms = tally.runs - tally.branches[Branch.SKIP.value]
        lines.append(
            f"| {tally.rows_per_day} | {tally.runs} | {tally.branches[Branch.SKIP.value]} | {alarms} "
            f"| {tally.false_alarm_rate:.1%} | {checks} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the healthy story over the seeds and sizes asked for; print markdown, or JSON with --json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=100, help="seeds per size (default 100)")
    parser.add_argument("--first-seed", type=int, default=1000, help="first seed (default 1000)")
    parser.add_argument("--rows-per-day", default="200,1500", help="comma-separated sizes (default 200,1500)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of markdown")
    args = parser.parse_args(argv)
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    with tempfile.TemporaryDirectory(prefix="healthy-") as folder:
        tallies = [diagnose_seeds(int(size), seeds, Path(folder)) for size in args.rows_per_day.split(",")]
    print(json.dumps([t.to_dict() for t in tallies], indent=2) if args.json else markdown(tallies))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
