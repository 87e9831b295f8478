"""The benchmark plan as steps with an ETA learned from the steps already done (seconds per row, per kind)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from benchmarks import scenario
from benchmarks.progress import clock, say

PRIOR_SECONDS_PER_ROW = {
    ("generate", "duckdb"): 1.0e-6,
    ("generate", "postgresql"): 3.0e-6,
    ("floor", "duckdb"): 1.0e-7,
    ("floor", "postgresql"): 4.0e-7,
    ("gate", "duckdb"): 1.5e-6,
    ("gate", "postgresql"): 5.0e-6,
    ("generate", "spark"): 1.5e-6,
    ("floor", "spark"): 1.0e-6,
    ("gate", "spark"): 2.0e-5,
    ("evidently", "duckdb"): 3.0e-5,
    ("evidently", "postgresql"): 3.0e-5,
}
"""Rough costs on a 2-core machine, used until a step of the same kind has run; `gate` covers all gate runs."""


@dataclass(frozen=True)
class Step:
    """One unit of the plan: a kind of work on one engine and size."""

    kind: str
    engine: str
    rows: int

    @property
    def label(self) -> str:
        """``postgresql 10M gate``."""
        return f"{self.engine} {scenario.size_label(self.rows)} {self.kind}"


class Plan:
    """Ordered steps; prints which step runs next, the time so far and the ETA of the rest."""

    def __init__(self, steps: list[Step]) -> None:
        self.steps = steps
        self.rates = dict(PRIOR_SECONDS_PER_ROW)
        self.position = 0
        self.started = time.perf_counter()

    def expected_s(self, step: Step) -> float:
        """The expected duration of a step at the current learned rate."""
        return self.rates[(step.kind, step.engine)] * step.rows

    def begin(self, step: Step) -> None:
        """Announce a step with the plan's elapsed time and ETA."""
        self.position = self.steps.index(step)
        remaining = sum(self.expected_s(later) for later in self.steps[self.position :])
        elapsed = time.perf_counter() - self.started
        say(
            f"[{self.position + 1}/{len(self.steps)}] {step.label}  (elapsed {clock(elapsed)}, ETA {clock(remaining)})"
        )

    def finish(self, step: Step, seconds: float) -> None:
        """Learn the cost of a kind of step from its measured duration."""
        self.rates[(step.kind, step.engine)] = seconds / step.rows

    def drop(self, step: Step) -> None:
        """Remove a step that will not run (skipped size, or Evidently after it failed at a smaller size)."""
        if step in self.steps[self.position + 1 :]:
            self.steps.remove(step)
