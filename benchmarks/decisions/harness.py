"""Decision quality: the gate on many seeded warehouses of every story, for false alarms and detection rates.

nice -n 15 python -m benchmarks.decisions.harness --results benchmarks/decisions/results.jsonl

Healthy and harmless stories run at every size (100, 1,000 and 10,000 rows a day): any branch but the story's
own is a false alarm. Stories that call for a branch run at one size over magnitudes 0.5 to 2 (a power curve).
Runs go one at a time, in rounds of 5 seeds over every cell, and are appended to --results, so an interrupted
run resumes where it stopped and a shortened one still covers every cell; then
`python -m benchmarks.decisions.report` writes the figures and the plot.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from airflow_retrain_gate.demo.stories import STORIES
from benchmarks.decisions.runs import RunKey, run_all

HARMLESS = ("healthy", "stable_harmless_drift", "segment_mix_shift")
"""Stories where nothing needs fixing, escalating beyond the story's own branch, or retraining."""
MAGNITUDES = (0.5, 1.0, 1.5, 2.0)
ROUND = 5
LARGE = 5000
"""Sizes above this many rows a day take seconds per run, so they get fewer seeds."""


def harmless_keys(
    stories: list[str], sizes: list[int], seeds: dict[tuple[bool, bool], int], first_seed: int
) -> list[RunKey]:
    """Each harmless story at each size; magnitudes cycle with the seed. `seeds` maps (healthy story, above
    LARGE rows a day) to a seed count."""
    return [
        RunKey(story, size, 1.0 if story == "healthy" else MAGNITUDES[seed % len(MAGNITUDES)], seed)
        for size in sizes
        for story in stories
        for seed in range(first_seed, first_seed + seeds[story == "healthy", size > LARGE])
    ]


def power_keys(stories: list[str], size: int, seeds: int, first_seed: int) -> list[RunKey]:
    """Each story that calls for a branch at every magnitude, `seeds` seeds each."""
    return [
        RunKey(story, size, magnitude, seed)
        for story in stories
        for magnitude in MAGNITUDES
        for seed in range(first_seed, first_seed + seeds)
    ]


def _names(text: str) -> list[str]:
    return [name for name in text.split(",") if name]


def main(argv: list[str] | None = None) -> int:
    """Run the planned warehouses not yet in --results."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--results", type=Path, required=True, help="JSON-lines file, appended to (resumes)")
    parser.add_argument("--sizes", default="100,1000,10000", help="rows a day for harmless stories")
    parser.add_argument("--harmless", default=",".join(HARMLESS), help="harmless stories to run")
    parser.add_argument("--healthy-seeds", type=int, default=200, help="seeds of the healthy story per size")
    parser.add_argument("--harmless-seeds", type=int, default=60, help="seeds of other harmless stories")
    parser.add_argument(
        "--large-healthy-seeds", type=int, default=40, help="healthy seeds above 5,000 rows a day"
    )
    parser.add_argument("--large-harmless-seeds", type=int, default=10, help="their seeds above 5,000 rows")
    parser.add_argument("--power", default=None, help="stories for the power curve (default: all others)")
    parser.add_argument("--power-size", type=int, default=1000, help="rows a day of the power curve")
    parser.add_argument("--power-seeds", type=int, default=6, help="seeds per story and magnitude")
    parser.add_argument("--first-seed", type=int, default=1000)
    args = parser.parse_args(argv)
    harmless = _names(args.harmless)
    power = _names(args.power) if args.power is not None else [s for s in STORIES if s not in HARMLESS]
    sizes = [int(size) for size in _names(args.sizes)]
    seeds = {
        (True, False): args.healthy_seeds,
        (False, False): args.harmless_seeds,
        (True, True): args.large_healthy_seeds,
        (False, True): args.large_harmless_seeds,
    }
    keys = harmless_keys(harmless, sizes, seeds, args.first_seed)
    keys += power_keys(power, args.power_size, args.power_seeds, args.first_seed)
    # Seeds in rounds of ROUND over every cell: a run stopped early still covers every story and size.
    keys.sort(key=lambda key: (key.seed - args.first_seed) // ROUND)
    scratch = (
        "/dev/shm" if Path("/dev/shm").is_dir() else None
    )  # tables live a second: keep them off the disk
    with tempfile.TemporaryDirectory(prefix="decisions-", dir=scratch) as folder:
        run_all(keys, args.results, Path(folder))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
