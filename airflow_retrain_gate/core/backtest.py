"""Replay a policy as of each date of a past period, with the cooldown simulated from the replayed decisions.

Each date runs the real gate (`run_gate`) against a private state database, a temporary SQLite file that never
touches the user's (SQLite keeps its connections pooled; a DuckDB state file opens one per transaction): every
replayed decision is logged there, so the next date's cooldown sees the trains replayed before it, and reference
profiles are cached between dates. The warehouse is held for the whole replay (`Warehouse.held`): its tables are
read as one snapshot.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from airflow_retrain_gate.core.decision import Decision
from airflow_retrain_gate.core.decision_log import DecisionLog, RunKey
from airflow_retrain_gate.core.findings import Action, Branch, Status
from airflow_retrain_gate.core.gate import resolve_windows, run_gate
from airflow_retrain_gate.core.policy import Policy
from airflow_retrain_gate.core.profiling.builder import ProfileBuilder
from airflow_retrain_gate.core.profiling.cache import ProfileCache
from airflow_retrain_gate.core.state import StateStore
from airflow_retrain_gate.core.timeframes import TimeWindow
from airflow_retrain_gate.core.warehouse import Warehouse

BACKTEST_DAG_ID = "backtest"
"""The dag_id of replayed decisions in the private decision log."""


@dataclass(frozen=True)
class ReplayedDay:
    """The gate's decision as of one replayed date, and what the timeline shows of it."""

    as_of: datetime
    branch: Branch
    deciding_checks: tuple[str, ...]
    headline: str
    """The decision's first reason."""
    train_checks: tuple[str, ...]
    """Checks whose failing findings asked for train, whether or not the branch became train (precedence,
    persistence, cooldown or a veto may hold it back): they make the date train-worthy."""
    errored_checks: tuple[str, ...] = ()
    """Checks that could not diagnose this date (status error, e.g. a table that cannot be read): the branch then
    comes from the policy's `on_error`, not from a judgement of the model."""
    decision: Decision | None = None
    """The full decision (None in timelines built by hand)."""

    @property
    def train_worthy(self) -> bool:
        """Whether some check whose action is train fired on this date."""
        return bool(self.train_checks)

    @property
    def diagnosed(self) -> bool:
        """Whether every check could judge this date (none errored)."""
        return not self.errored_checks

    @classmethod
    def from_decision(cls, decision: Decision) -> ReplayedDay:
        """The timeline entry of one decision."""
        asked_train = (f.check for f in decision.findings if f.decides and f.action is Action.TRAIN)
        return cls(
            as_of=decision.as_of,
            branch=decision.branch,
            deciding_checks=decision.deciding_checks,
            headline=decision.reasons[0] if decision.reasons else "",
            train_checks=tuple(dict.fromkeys(asked_train)),
            errored_checks=tuple(
                dict.fromkeys(f.check for f in decision.findings if f.status is Status.ERROR)
            ),
            decision=decision,
        )


def dates_every(start: datetime, end: datetime, step: timedelta) -> list[datetime]:
    """`start`, then every `step` up to and including `end`: the dates a backtest replays, or a schedule's."""
    if step <= timedelta(0):
        raise ValueError(f"the step must be positive, not {step}")
    dates = []
    when = start
    while when <= end:
        dates.append(when)
        when += step
    return dates


@contextmanager
def private_state() -> Iterator[StateStore]:
    """A state store in a temporary SQLite file, deleted afterwards: the replay's own decision log and cache."""
    with tempfile.TemporaryDirectory(prefix="retrain_gate_backtest_") as folder:
        state = StateStore(f"sqlite:///{Path(folder) / 'backtest_state.sqlite'}")
        try:
            yield state
        finally:
            state.dispose()


def replay(
    policy: Policy,
    warehouse: Warehouse,
    dates: list[datetime],
    *,
    progress: Callable[[int, int, datetime], None] | None = None,
    stop: threading.Event | None = None,
) -> list[ReplayedDay]:
    """The gate's decision as of each of `dates` (in order), each logged in a private decision log before the
    next runs, so that a train within the policy's cooldown of an earlier replayed train becomes alert.

    Once `stop` is set (the process was asked to end), no further date starts: the timeline so far is returned.
    """
    timeline = []
    with private_state() as state, warehouse.held():
        log = DecisionLog(state)
        for index, as_of in enumerate(sorted(dates), start=1):
            if stop is not None and stop.is_set():
                break
            if progress:
                progress(index, len(dates), as_of)
            key = RunKey(BACKTEST_DAG_ID, f"backtest__{as_of.isoformat()}", policy.name)
            decision = run_gate(policy, warehouse, as_of, state=state, run_key=key)
            log.record(key, decision)
            timeline.append(ReplayedDay.from_decision(decision))
            if index == 1 and len(dates) > 1:
                prepare_days(policy, warehouse, state, sorted(dates))
    return timeline


def prepare_days(policy: Policy, warehouse: Warehouse, state: StateStore, dates: list[datetime]) -> None:
    """Cache the day parts of every day the replayed windows hold, in one pass per run of missing days, on the
    bins the first date pinned: each later date then verifies and merges them instead of profiling its new days
    (a replayed train pins new bins, and the dates after it profile their days again)."""
    reference, current = resolve_windows(policy, dates[0])
    last_reference, last_current = resolve_windows(policy, dates[-1])
    span = TimeWindow(
        "backtest",
        min(reference.start, current.start),
        max(last_reference.end, last_current.end),
    )
    builder = ProfileBuilder(
        warehouse,
        policy,
        reference,
        current,
        dates[0],
        ProfileCache(state),
        trained_at=DecisionLog(state).last_train_before(policy.name, dates[0]),
    )
    builder.prepare_days(span)
    warehouse.release()
