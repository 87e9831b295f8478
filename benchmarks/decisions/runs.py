"""One gate run per generated warehouse, appended to a JSON-lines file so an interrupted harness resumes.

A run is a story at a size, a magnitude and a seed: its tables are written to a DuckDB file of their own
(deleted after the run), the gate decides as of the demo's date, and the branch is recorded.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from airflow_retrain_gate.core import Warehouse, parse_policy, run_gate
from airflow_retrain_gate.demo.catalog import DEMO_AS_OF
from airflow_retrain_gate.demo.loading import load_tables
from airflow_retrain_gate.demo.stories import STORIES, build_story, story_policy


@dataclass(frozen=True)
class RunKey:
    """Which warehouse a run diagnosed."""

    story: str
    rows_per_day: int
    magnitude: float
    seed: int


@dataclass(frozen=True)
class RunResult:
    """The gate's answer on one generated warehouse."""

    story: str
    rows_per_day: int
    magnitude: float
    seed: int
    branch: str
    expected_branch: str
    deciding_checks: list[str]
    headline: str
    seconds: float

    @property
    def key(self) -> RunKey:
        """The warehouse this run diagnosed."""
        return RunKey(self.story, self.rows_per_day, self.magnitude, self.seed)

    @property
    def correct(self) -> bool:
        """Whether the gate took the branch the story calls for."""
        return self.branch == self.expected_branch


def diagnose(key: RunKey, folder: Path) -> RunResult:
    """Generate the warehouse of `key` in a fresh DuckDB file, run the gate on it, and delete the file."""
    database = folder / f"{key.story}_{key.rows_per_day}_{key.seed}.duckdb"
    started = time.perf_counter()
    try:
        url = f"duckdb:///{database}"
        tables = build_story(key.story, seed=key.seed, magnitude=key.magnitude, rows_per_day=key.rows_per_day)
        load_tables(url, tables)
        decision = run_gate(parse_policy(story_policy(key.story)), Warehouse(url), DEMO_AS_OF)
    finally:
        database.unlink(missing_ok=True)
    return RunResult(
        story=key.story,
        rows_per_day=key.rows_per_day,
        magnitude=key.magnitude,
        seed=key.seed,
        branch=decision.branch.value,
        expected_branch=STORIES[key.story].branch,
        deciding_checks=list(decision.deciding_checks),
        headline=decision.headline(),
        seconds=round(time.perf_counter() - started, 3),
    )


def read_results(path: Path) -> list[RunResult]:
    """Every run recorded in a results file (none when it does not exist)."""
    if not path.exists():
        return []
    return [RunResult(**json.loads(line)) for line in path.read_text().splitlines() if line.strip()]


def run_all(keys: Iterable[RunKey], results: Path, folder: Path) -> list[RunResult]:
    """Diagnose every key not yet in `results`, one after another, appending each result as it comes."""
    done = {result.key for result in read_results(results)}
    todo = [key for key in keys if key not in done]
    started = time.perf_counter()
    for index, key in enumerate(todo, start=1):
        result = diagnose(key, folder)
        with results.open("a") as handle:
            handle.write(json.dumps(asdict(result)) + "\n")
        elapsed = time.perf_counter() - started
        remaining = elapsed / index * (len(todo) - index)
        flag = "" if result.correct else f"  <- {result.branch}: {result.headline}"
        print(
            f"[{index}/{len(todo)}, {elapsed / 60:.1f} min, ~{remaining / 60:.1f} min left] "
            f"{key.story} {key.rows_per_day}/day x{key.magnitude} seed {key.seed}{flag}",
            file=sys.stderr,
            flush=True,
        )
    return read_results(results)
