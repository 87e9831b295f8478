"""Benchmark results: one record per engine and size, merged into a JSON file so partial re-runs update it."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import psutil


@dataclass
class Measurement:
    """Everything measured for one engine and size; times in seconds, memory in MiB; None where not measured."""

    engine: str
    rows: int
    window_rows: int | None = None
    floor_s: float | None = None
    gate_s: float | None = None
    gate_peak_rss_mb: float | None = None
    rows_fetched: int | None = None
    queries: int | None = None
    query_log: list[tuple[str, int, float]] = field(default_factory=list)
    steady_s: float | None = None
    """A steady-state daily run: yesterday's day parts are cached and one new day arrived in each window."""
    steady_peak_rss_mb: float | None = None
    steady_note: dict[str, Any] | None = None
    """The steady run's day parts: cached, computed and recomputed days."""
    backtest_s: float | None = None
    """A backtest of `scenario.BACKTEST_DATES` daily decisions ending at as_of, from an empty state."""
    backtest_peak_rss_mb: float | None = None
    memory_limit: str | None = None
    """DuckDB's memory_limit in the extra gate run (limited_*); DuckDB runs inside the gate's process."""
    limited_s: float | None = None
    limited_peak_rss_mb: float | None = None
    branch: str | None = None
    evidently_s: float | None = None
    evidently_load_s: float | None = None
    evidently_peak_rss_mb: float | None = None
    evidently_failure: str | None = None
    skipped: str | None = None
    commit: str | None = None
    """The repository commit measured (``+changes``: the package had uncommitted edits)."""
    load_average: tuple[float, float] | None = None
    """The 1-minute load average before and after the engine and size ran (other work on the machine)."""

    @property
    def key(self) -> str:
        """``duckdb/10000000``."""
        return f"{self.engine}/{self.rows}"

    @property
    def ratio(self) -> float | None:
        """Gate time over floor time."""
        return _over(self.gate_s, self.floor_s)

    @property
    def steady_ratio(self) -> float | None:
        """Steady-state run over the cold first run."""
        return _over(self.steady_s, self.gate_s)

    @property
    def steady_floor_ratio(self) -> float | None:
        """Steady-state run over the floor."""
        return _over(self.steady_s, self.floor_s)

    @property
    def backtest_ratio(self) -> float | None:
        """The backtest over one cold run."""
        return _over(self.backtest_s, self.gate_s)

    @property
    def speedup(self) -> float | None:
        """Evidently's time over the gate's (a lower bound when Evidently was stopped)."""
        return _over(self.evidently_s, self.gate_s)


def _over(numerator: float | None, denominator: float | None) -> float | None:
    """A ratio of two measured times, None when either was not measured."""
    return numerator / denominator if numerator and denominator else None


def machine() -> dict[str, Any]:
    """The machine the numbers were measured on, and the commit of the code measured."""
    from importlib.metadata import version

    return {
        "cores": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "cpu": _cpu_model(),
        "python": platform.python_version(),
        "duckdb": version("duckdb"),
        "commit": _commit(),
    }


def _commit() -> str:
    """RETRAIN_GATE_BENCH_COMMIT if set (a pinned export), else HEAD, marked ``+changes`` when the package differs."""
    if os.environ.get("RETRAIN_GATE_BENCH_COMMIT"):
        return os.environ["RETRAIN_GATE_BENCH_COMMIT"]
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "airflow_retrain_gate"], cwd=root, capture_output=True, text=True
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load(path: Path) -> dict[str, Any]:
    """The results file, or an empty one."""
    if path.exists():
        return json.loads(path.read_text())  # type: ignore[no-any-return]
    return {"machine": {}, "runs": {}}


def save(path: Path, measurement: Measurement, extra_machine: dict[str, Any]) -> None:
    """Merge one measurement (and the machine description) into the results file."""
    data = load(path)
    data["machine"] = {**machine(), **extra_machine}
    data["runs"][measurement.key] = {**asdict(measurement), "commit": data["machine"]["commit"]}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


def measurements(data: dict[str, Any]) -> list[Measurement]:
    """The stored measurements, ordered by engine then size."""
    known = {item.name for item in fields(Measurement)}  # older runs may hold fields since retired
    found = [
        Measurement(
            **{key: value for key, value in run.items() if key in known and key != "query_log"},
            query_log=[tuple(entry) for entry in run.get("query_log", [])],
        )
        for run in data["runs"].values()
    ]
    return sorted(found, key=lambda item: (item.engine, item.rows))
