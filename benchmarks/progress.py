"""Progress lines with an ETA, for generating tables and for the whole benchmark plan."""

from __future__ import annotations

import sys
import time


def clock(seconds: float) -> str:
    """Seconds as ``1h02m``, ``4m05s`` or ``12.3s``."""
    if seconds >= 3600:
        return f"{int(seconds // 3600)}h{int(seconds % 3600 // 60):02d}m"
    if seconds >= 60:
        return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"
    return f"{seconds:.1f}s"


def say(message: str) -> None:
    """Print one progress line at once (the benchmark's output is often piped to a log)."""
    print(message, file=sys.stderr, flush=True)


class Progress:
    """Counts done units of one task and prints the share done, elapsed time and a linear ETA."""

    def __init__(self, label: str, total: int) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self.started = time.perf_counter()

    def advance(self, units: int) -> None:
        """Record `units` more done and print a line."""
        self.done += units
        elapsed = time.perf_counter() - self.started
        remaining = elapsed / self.done * (self.total - self.done) if self.done else float("nan")
        share = 100 * self.done / self.total
        say(f"  {self.label}: {share:5.1f}%  elapsed {clock(elapsed)}  ETA {clock(remaining)}")
