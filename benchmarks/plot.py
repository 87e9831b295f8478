"""Draws bench.png: time and peak memory against rows, per engine (run with the Evidently virtualenv's Python)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

SERIES = (
    ("floor_s", None, "floor (1 aggregate query)", ":v"),
    ("gate_s", "gate_peak_rss_mb", "gate, first run", "-o"),
    ("steady_s", "steady_peak_rss_mb", "gate, steady daily run (one new day)", "--s"),
    ("limited_s", "limited_peak_rss_mb", "gate, DuckDB with memory_limit", "-D"),
    ("evidently_s", "evidently_peak_rss_mb", "Evidently DataDriftPreset", "-.^"),
)
COLORS = {"duckdb": "tab:orange", "postgresql": "tab:blue"}


def _stopped(run: dict[str, Any], key: str) -> bool:
    """Whether a value is where Evidently was stopped (a lower bound), not a finished run."""
    return key.startswith("evidently") and bool(run.get("evidently_failure"))


def main(results: Path, image: Path) -> None:
    """Read the results JSON and write the PNG."""
    data = json.loads(results.read_text())
    runs = [run for run in data["runs"].values() if not run.get("skipped")]
    figure, (time_axis, memory_axis) = plt.subplots(1, 2, figsize=(13, 5))
    for engine, color in COLORS.items():
        engine_runs = sorted((run for run in runs if run["engine"] == engine), key=lambda run: run["rows"])
        if not engine_runs:
            continue
        for time_key, memory_key, label, style in SERIES:
            for axis, key in ((time_axis, time_key), (memory_axis, memory_key)):
                finished = [run for run in engine_runs if key and run.get(key) and not _stopped(run, key)]
                if finished:
                    xs, ys = zip(*((run["rows"], run[key]) for run in finished), strict=True)
                    axis.plot(xs, ys, style, color=color, label=f"{engine}: {label}")
                for run in engine_runs:
                    if key and run.get(key) and _stopped(run, key):
                        axis.plot(run["rows"], run[key], "x", color=color, markersize=9)
                        axis.annotate(
                            "stopped (memory cap)", (run["rows"], run[key]), color=color, fontsize=7
                        )
    memory_axis.axhline(400, color="grey", linewidth=0.8, linestyle=":")
    memory_axis.text(
        0.01,
        400,
        "400 MB target",
        transform=memory_axis.get_yaxis_transform(),
        color="grey",
        fontsize=8,
        va="bottom",
    )
    for axis, title, unit in (
        (time_axis, "Wall time", "seconds"),
        (memory_axis, "Peak RSS of the process", "MiB"),
    ):
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("rows in the table (half of them in the two windows)")
        axis.set_ylabel(unit)
        axis.set_title(title)
        axis.grid(True, which="both", alpha=0.3)
    time_axis.legend(fontsize=7)
    memory_axis.legend(fontsize=7)
    machine = data.get("machine", {})
    figure.suptitle(
        f"airflow-retrain-gate benchmark: {machine.get('cores')} cores, {machine.get('memory_gb')} GB RAM"
    )
    figure.tight_layout()
    figure.savefig(image, dpi=110)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
