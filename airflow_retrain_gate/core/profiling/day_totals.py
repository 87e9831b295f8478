"""What each day of a table holds now (rows and latest timestamp), read in one cheap query: how cached day parts
are verified before they are merged."""

from __future__ import annotations

import json
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import groupby
from typing import Any

import sqlalchemy as sa

from airflow_retrain_gate.core.profiling.queries import day_key
from airflow_retrain_gate.core.profiling.table_source import TableSource
from airflow_retrain_gate.core.scans import Scan, Statement
from airflow_retrain_gate.core.sql import day_of
from airflow_retrain_gate.core.timeframes import TimeWindow, midnight, to_utc, touching_runs


@dataclass(frozen=True)
class DayTotals:
    """What one day of a table holds now: its rows and latest timestamp, to tell whether a cached part is stale."""

    rows: int
    latest: datetime | None


def day_of_span(span: TimeWindow) -> str:
    """The day (ISO date) a day part's span lies in."""
    return span.start.date().isoformat()


def is_whole_day(span: TimeWindow) -> bool:
    """Whether a day part's span is its whole UTC day (a window's partial ends are not)."""
    return span.start == midnight(span.start.date()) and span.end == span.start + timedelta(days=1)


@dataclass
class _KnownDays:
    """One table's whole days whose totals a snapshot has read or counted, the profiles counting its day parts
    now (by kind), and the condition its readers wait on."""

    days: dict[str, DayTotals] = field(default_factory=dict)
    counting: set[str] = field(default_factory=set)
    changed: threading.Condition = field(default_factory=threading.Condition)


@dataclass(frozen=True)
class DayTotalsReader:
    """Reads rows and latest timestamp per day of a table's day spans (by its `timestamp` field)."""

    source: TableSource

    def totals(self, spans: list[TimeWindow], kind: str = "") -> dict[str, DayTotals]:
        """Rows and latest timestamp now of the day of each of `spans`, in one query. Inside a snapshot
        (`Warehouse.held`), whole days read or counted earlier in it are not read again, and a profile of another
        `kind` than those counting the table's day parts (`counting`) waits for their totals: what a run reads then
        does not depend on which of its profiles, running side by side, asks first."""
        known = self._known()
        if known is None:
            return self.read(spans)
        with known.changed:
            if kind not in known.counting:
                known.changed.wait_for(lambda: not known.counting)
            unknown = [span for span in spans if not (is_whole_day(span) and day_of_span(span) in known.days)]
            read = self.read(unknown) if unknown else {}
            known.days.update(
                {
                    day_of_span(span): read.get(day_of_span(span), DayTotals(0, None))
                    for span in unknown
                    if is_whole_day(span)
                }
            )
            # A whole day's totals are known now; a window's partial end day is only what was just read of it.
            return {
                **read,
                **{day_of_span(span): known.days[day_of_span(span)] for span in spans if is_whole_day(span)},
            }

    def remember(self, totals: dict[str, DayTotals]) -> None:
        """Whole days' `totals` just counted (with their parts), known for the rest of a snapshot."""
        known = self._known()
        if known is not None:
            with known.changed:
                known.days.update(totals)

    def claim(self, kind: str) -> None:
        """Profiles of `kind` will count this table's day parts in the snapshot: other readers wait (`totals`)."""
        known = self._known()
        if known is not None:
            with known.changed:
                known.counting.add(kind)

    def release(self, kind: str) -> None:
        """Profiles of `kind` have counted this table's day parts (or failed): waiting readers go on."""
        known = self._known()
        if known is not None:
            with known.changed:
                known.counting.discard(kind)
                known.changed.notify_all()

    def _known(self) -> _KnownDays | None:
        """Whole days' totals of this table (its rows the mapping's filters keep) already read in the warehouse's
        snapshot, or None outside one."""
        snapshot = self.source.warehouse.snapshot
        if snapshot is None:
            return None
        mapping = self.source.mapping
        timestamp = self.source.column("timestamp").name
        table = [self.source.info.qualified_name, timestamp, sorted(mapping.filters.items())]
        known: _KnownDays = snapshot.setdefault(json.dumps(["day totals", table], default=str), _KnownDays())
        return known

    def read(self, spans: list[TimeWindow]) -> dict[str, DayTotals]:
        """Rows and latest timestamp per day of `spans` now: on a warehouse server, consecutive groups of the
        days are read side by side, one statement each (a single one aggregates in one process there)."""
        if not spans:
            return {}
        ordered = sorted(spans, key=lambda span: span.start)
        size = -(-len(ordered) // max(self.source.warehouse.concurrency, 1))
        groups = [ordered[start : start + size] for start in range(0, len(ordered), size)]
        verified = Counter(span.name for span in ordered)
        queries = [self._query(group, len(groups) > 1, verified) for group in groups]
        return {
            day_key(row.day): DayTotals(int(row.rows), None if row.latest is None else to_utc(row.latest))
            for rows in self.source.warehouse.fetch_all(queries)
            for row in rows
        }

    def _query(
        self, spans: list[TimeWindow], labelled: bool, verified: Counter[str]
    ) -> tuple[Statement, str, tuple[Scan, ...]]:
        """The statement reading rows and latest timestamp per day of `spans` (in time order), over each
        window's runs of touching days, with its purpose (naming its days when `labelled`) and scans: each run
        its share of the `verified` days of its window, so that a window's verification is one read."""
        by_window: dict[str, list[tuple[str, TimeWindow]]] = {}
        for span in spans:
            by_window.setdefault(span.name, []).append((day_of_span(span), span))
        runs = sorted(
            (
                (TimeWindow(name, run[0][1].start, run[-1][1].end), len(run))
                for name, named in by_window.items()
                for run in touching_runs(named, lambda item: item[1])
            ),
            key=lambda item: item[0].start,
        )
        windows = [window for window, _ in runs]
        by_day = self.source.column("timestamp").name in self.source.info.btree_indexed
        query = self._by_day(spans) if by_day else self._grouped(windows)
        names = " and ".join(dict.fromkeys(window.name for window in windows))
        label = f" ({day_of_span(spans[0])}..{day_of_span(spans[-1])})" if labelled else ""
        purpose = f"verify cached parts of {self.source.mapping.table} {names}{label}"
        # The tally counts a read per SELECT naming the table: one per day in the per-day form.
        selects = len(query.selects) if isinstance(query, sa.CompoundSelect) else 1
        source = self.source.over_few_days() if by_day else self.source
        scans = tuple(source.scan(window, count / verified[window.name] / selects) for window, count in runs)
        return query, purpose, scans

    def _grouped(self, windows: list[TimeWindow]) -> sa.Select[Any]:
        """Rows and latest timestamp per day of `windows` (in time order), grouped in one pass over them."""
        day = day_of(self.source.column("timestamp")).label("day")
        return self._select(day, windows).group_by(day)

    def _by_day(self, spans: list[TimeWindow]) -> sa.CompoundSelect[Any]:
        """Rows and latest timestamp of each day of `spans` (in time order), one aggregate a day, where a btree
        leads with the timestamp: each is counted from the index alone (PostgreSQL groups a window's rows by day in
        one process, and reads every page of the window to do so). 0.26 s against 0.73 s at 10M rows with the
        table in the page cache, 0.33 s against 3.7 s from disk; 2.5-2.9 s against 11-14 s at 100M."""
        return sa.union_all(
            *(
                self._select(sa.literal(day, sa.Date).label("day"), list(parts))
                for day, parts in groupby(spans, key=lambda span: span.start.date())
            )
        )

    def _select(self, day: sa.ColumnElement[Any], spans: list[TimeWindow]) -> sa.Select[Any]:
        """`day`, rows and latest timestamp of the table's rows within `spans` (in time order)."""
        timestamp = self.source.column("timestamp")
        source = self.source.only_within("timestamp", spans)
        covering = TimeWindow(spans[0].name, spans[0].start, max(span.end for span in spans))
        return (
            sa.select(day, sa.func.count().label("rows"), sa.func.max(timestamp).label("latest"))
            .select_from(source.clause)
            .where(*source.in_window("timestamp", covering))
        )
