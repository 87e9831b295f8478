"""Window profiles of a features-like table from per-day parts cached in the state database.

A daily gate's windows share all but one day with yesterday's. Each day's part is computed once on the
baseline's bins (`baseline.py`), cached, and merged into any window holding that day. One cheap query per
window (rows and latest timestamp per day) verifies the cached parts: a day whose rows changed since its part
was computed (late rows, a reload) is computed again and reported, so the decision names it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from airflow_retrain_gate.core.profiling.cache import ProfileCache, cache_key
from airflow_retrain_gate.core.profiling.day_parts import day_spans, merge_days, split_days
from airflow_retrain_gate.core.profiling.features import FeatureBinning, ProfileSettings
from airflow_retrain_gate.core.profiling.kinds import ProfileKind
from airflow_retrain_gate.core.profiling.profiles import TableProfile
from airflow_retrain_gate.core.profiling.queries import day_key
from airflow_retrain_gate.core.profiling.table_source import TableSource
from airflow_retrain_gate.core.sql import day_of
from airflow_retrain_gate.core.timeframes import TimeWindow, to_utc

log = logging.getLogger("airflow_retrain_gate")

WindowProfiler = Callable[[TableSource, TimeWindow, FeatureBinning | None, ProfileSettings], TableProfile]
"""Profiles a table over a window on given bins (None: derives them), as `profile_features` does."""


@dataclass(frozen=True)
class DayTotals:
    """What one day of a table holds now: its rows and latest timestamp, to tell whether a cached part is stale."""

    rows: int
    latest: datetime | None


@dataclass
class DayPartProfiler:
    """Profiles one table over windows from its cached day parts, computing only the days not cached or stale."""

    cache: ProfileCache
    kind: ProfileKind
    identity: dict[str, Any]
    """What shapes the table's profiles (mapping, settings): with the bins' digest, it names the parts."""
    source: TableSource
    settings: ProfileSettings
    profiler: WindowProfiler

    def profile(self, window: TimeWindow, binning: FeatureBinning | None) -> TableProfile:
        """The profile of `window` on `binning` (None: derive the bins from this window, computing every day)."""
        window = self.source.window_of("timestamp", window)
        if binning is None:
            profile = self.profiler(self.source, window, None, self.settings)
            self._store(FeatureBinning.of(profile), split_days(profile))
            self.cache.parts_computed += len(profile.days)
            return profile
        spans = day_spans(window)
        keys = [self._key(binning, span) for span in spans]
        cached = self.cache.get_many(keys)
        stale = self._stale(window, spans, keys, cached) if cached else set()
        parts: list[TableProfile | None] = [None if key in stale else cached.get(key) for key in keys]
        for run in _missing_runs(parts):
            first, last = spans[run[0]], spans[run[-1]]
            computed = split_days(
                self.profiler(
                    self.source, TimeWindow(window.name, first.start, last.end), binning, self.settings
                )
            )
            self._store(binning, computed)
            for index, part in zip(run, computed, strict=True):
                parts[index] = part
        reused = sum(1 for key in keys if key in cached and key not in stale)
        self.cache.parts_cached += reused
        self.cache.parts_computed += len(keys) - reused
        if reused:
            self.cache.answered.append(self.source.scan(window, reused / len(keys)))
        return merge_days(window, [part for part in parts if part is not None], self.settings.top_k)

    def _key(self, binning: FeatureBinning, span: TimeWindow) -> str:
        return cache_key(self.kind, {**self.identity, "part": "day", "bins": binning.digest()}, span)

    def _store(self, binning: FeatureBinning, parts: list[TableProfile]) -> None:
        self.cache.put_many(
            self.kind,
            self.source.mapping.table,
            [(self._key(binning, part.window), part.window, part) for part in parts],
        )

    def _stale(
        self, window: TimeWindow, spans: list[TimeWindow], keys: list[str], cached: dict[str, Any]
    ) -> set[str]:
        """Keys of cached parts whose day no longer holds what the part counted; their days are reported."""
        totals = self._totals(window)
        stale = set()
        for span, key in zip(spans, keys, strict=True):
            part = cached.get(key)
            if part is None:
                continue
            day = span.start.date().isoformat()
            now = totals.get(day, DayTotals(0, None))
            if (part.rows, part.max_timestamp) != (now.rows, now.latest):
                stale.add(key)
                self.cache.recomputed_days.setdefault(self.source.mapping.table, []).append(day)
                log.info(
                    "%s %s: rows %d -> %d, latest %s -> %s since its part was cached: recomputed",
                    self.source.mapping.table,
                    day,
                    part.rows,
                    now.rows,
                    part.max_timestamp,
                    now.latest,
                )
        return stale

    def _totals(self, window: TimeWindow) -> dict[str, DayTotals]:
        """Rows and latest timestamp per day of `window` now, in one query."""
        timestamp = self.source.column("timestamp")
        day = day_of(timestamp).label("day")
        query = (
            sa.select(day, sa.func.count().label("rows"), sa.func.max(timestamp).label("latest"))
            .select_from(self.source.clause)
            .where(*self.source.in_window("timestamp", window))
            .group_by(day)
        )
        rows = self.source.warehouse.fetch(
            query,
            f"verify cached parts of {self.source.mapping.table} {window.name}",
            (self.source.scan(window),),
        )
        return {
            day_key(row.day): DayTotals(int(row.rows), None if row.latest is None else to_utc(row.latest))
            for row in rows
        }


def _missing_runs(parts: list[TableProfile | None]) -> list[list[int]]:
    """Indexes of the missing parts, grouped into runs of consecutive days (each computed by one profile)."""
    runs: list[list[int]] = []
    for index, part in enumerate(parts):
        if part is not None:
            continue
        if runs and runs[-1][-1] == index - 1:
            runs[-1].append(index)
        else:
            runs.append([index])
    return runs
