"""How a probe subprocess reports: one JSON line on stdout, with the process's own peak RSS."""

from __future__ import annotations

import json
import resource
import sys
from typing import Any


def peak_rss_mb() -> float:
    """This process's peak resident set size in MiB, from Linux's VmHWM (ru_maxrss elsewhere).

    Not ru_maxrss on Linux: it is preserved across execve, so a probe started by a parent that once held
    gigabytes would report the parent's peak (getrusage(2)); VmHWM belongs to the probe's own address space.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def report(result: dict[str, Any]) -> None:
    """Print the probe's result, with its peak RSS, as the last line of stdout."""
    print(json.dumps({**result, "peak_rss_mb": round(peak_rss_mb(), 1)}, default=str), flush=True)
    sys.stdout.flush()
