"""Runs one probe in a subprocess under a time limit and a memory cap, with heartbeats while it runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from benchmarks.progress import clock, say

POLL_S = 0.1
HEARTBEAT_S = 30.0


@dataclass
class ProbeOutcome:
    """What a probe reported (its JSON line), or why it did not finish; with the peak RSS seen from outside."""

    result: dict[str, Any] | None
    failure: str | None
    wall_s: float
    polled_peak_rss_mb: float
    stderr_tail: list[str] = field(default_factory=list)


def _tree_rss(process: psutil.Process) -> int:
    """Resident bytes of a process and its children (a probe may start helpers)."""
    try:
        members = [process, *process.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for member in members:
        try:
            total += member.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total


def gate_probe_command(path: Path, rows: int, *options: str) -> list[str]:
    """The command running benchmarks/gate_probe.py on the DuckDB file at `path` (of `rows` rows), with `options`."""
    return [
        sys.executable,
        "-m",
        "benchmarks.gate_probe",
        "--engine",
        "duckdb",
        "--rows",
        str(rows),
        "--url",
        f"duckdb:///{path}",
        *options,
    ]


def run_probe(
    command: list[str], label: str, *, time_limit_s: float, memory_cap_mb: float, expected_s: float | None
) -> ProbeOutcome:
    """Run `command` (which prints one JSON line last) and stop it when it passes the time limit or memory cap."""
    # The repository root makes `benchmarks` importable; an existing PYTHONPATH stays first and the probe runs
    # outside the repository, so a package exported from a pinned commit (see the README) is the one measured.
    paths = [os.environ.get("PYTHONPATH", ""), str(Path(__file__).resolve().parent.parent)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path for path in paths if path)}
    with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
        started = time.perf_counter()
        child = subprocess.Popen(command, stdout=stdout, stderr=stderr, env=env, cwd=tempfile.gettempdir())
        watched = psutil.Process(child.pid)
        peak = 0
        failure = None
        next_beat = started + HEARTBEAT_S
        while child.poll() is None:
            peak = max(peak, _tree_rss(watched))
            elapsed = time.perf_counter() - started
            if peak > memory_cap_mb * 2**20:
                failure = (
                    f"out of memory: passed the {memory_cap_mb / 1024:.0f} GB cap after {clock(elapsed)}"
                )
            elif elapsed > time_limit_s:
                failure = f"time limit: still running after {clock(time_limit_s)}"
            if failure:
                _stop(watched)
                break
            if time.perf_counter() >= next_beat:
                expected = f", expected ~{clock(expected_s)}" if expected_s else ""
                say(
                    f"    {label}: still running, {clock(elapsed)} elapsed{expected}, RSS {peak / 2**20:.0f} MB"
                )
                next_beat += HEARTBEAT_S
            time.sleep(POLL_S)
        child.wait()
        wall = time.perf_counter() - started
        stdout.seek(0)
        stderr.seek(0)
        lines = [line for line in stdout.read().splitlines() if line.startswith("{")]
        errors = stderr.read().splitlines()[-15:]
    if failure is None and child.returncode != 0:
        failure = f"exited with code {child.returncode}: {errors[-1] if errors else 'no message'}"
        if child.returncode in (-9, 137):
            failure = f"killed (exit {child.returncode}), most likely by the kernel's out-of-memory killer"
    result = json.loads(lines[-1]) if failure is None and lines else None
    if failure is None and result is None:
        failure = "printed no result"
    return ProbeOutcome(result, failure, wall, round(peak / 2**20, 1), errors)


def _stop(process: psutil.Process) -> None:
    """Kill a probe and its children (only the processes this runner started)."""
    for member in [*process.children(recursive=True), process]:
        try:
            member.kill()
        except psutil.NoSuchProcess:
            pass
