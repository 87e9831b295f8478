"""Window profiles of a features-like table from per-day parts cached in the state database.

A daily gate's windows share all but one day with yesterday's. Each day's part is computed once on the
baseline's bins (`baseline.py`), cached, and merged into any window holding that day. One cheap query per run
(rows and latest timestamp per day of its windows) verifies the cached parts: a day whose rows changed since its
part was computed (late rows, a reload) is computed again and reported, so the decision names it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from airflow_retrain_gate.core.profiling.cache import ProfileCache, cache_key, decode_entries
from airflow_retrain_gate.core.profiling.day_parts import merge_days, split_days
from airflow_retrain_gate.core.profiling.day_totals import (
    DayTotals,
    DayTotalsReader,
    day_of_span,
    is_whole_day,
)
from airflow_retrain_gate.core.profiling.features import FeatureBinning, ProfileSettings
from airflow_retrain_gate.core.profiling.kinds import ProfileKind
from airflow_retrain_gate.core.profiling.missing_days import count_missing_days, wanted_parts
from airflow_retrain_gate.core.profiling.profiles import TableProfile
from airflow_retrain_gate.core.profiling.table_source import TableSource
from airflow_retrain_gate.core.timeframes import TimeWindow

log = logging.getLogger("airflow_retrain_gate")

WindowProfiler = Callable[[TableSource, TimeWindow, FeatureBinning | None, ProfileSettings], TableProfile]
"""Profiles a table over a window on given bins (None: derives them), as `profile_features` does."""


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
        if binning is not None:
            return self.profiles([window], binning)[0]
        window = self.source.window_of("timestamp", window)
        profile = self.profiler(self.source, window, None, self.settings)
        self._store(FeatureBinning.of(profile), split_days(profile))
        self.cache.parts_computed += len(profile.days)
        return profile

    def profiles(self, windows: list[TimeWindow], binning: FeatureBinning) -> list[TableProfile]:
        """The profiles of `windows` on `binning`: their cached days verified in one query, the days missing or
        stale computed together in one profile, the rest merged from the cache."""
        bins = binning.digest()
        wanted_by_window = wanted_parts(self.source, windows, lambda span: self._key(bins, span))
        wanted = wanted_by_window.spans
        stored = self.cache.stored(list(wanted))
        # The stored parts decode while the warehouse verifies their days and computes the days never stored.
        with ThreadPoolExecutor(max_workers=1) as pool:
            decoding = pool.submit(decode_entries, stored)
            totals = (
                DayTotalsReader(self.source).totals([wanted[key] for key in stored], self.kind)
                if stored
                else {}
            )
            found = self._compute(binning, {key: span for key, span in wanted.items() if key not in stored})
            cached = decoding.result()
        stale = self._stale(wanted, cached, totals)
        found.update({key: part for key, part in cached.items() if key not in stale})
        # Stale days (late rows) and unreadable entries, computed in a second round: rare.
        found.update(self._compute(binning, {key: span for key, span in wanted.items() if key not in found}))
        profiles = []
        for window, window_keys in wanted_by_window.by_window():
            reused = sum(1 for key in window_keys if key in cached and key not in stale)
            self.cache.parts_cached += reused
            self.cache.parts_computed += len(window_keys) - reused
            if reused:
                self.cache.answered.append(self.source.scan(window, reused / len(window_keys)))
            profiles.append(merge_days(window, [found[key] for key in window_keys], self.settings.top_k))
        return profiles

    def _compute(self, binning: FeatureBinning, missing: dict[str, TimeWindow]) -> dict[str, TableProfile]:
        """The parts of the `missing` spans (by key), computed (`count_missing_days`) and cached."""
        return count_missing_days(
            self.source,
            missing,
            lambda source, covering: split_days(self.profiler(source, covering, binning, self.settings)),
            lambda parts: self._store(binning, list(parts.values())),
        )

    def _key(self, bins: str, span: TimeWindow) -> str:
        """The cache key of the part of `span` counted on the bins of digest `bins`."""
        return cache_key(self.kind, {**self.identity, "part": "day", "bins": bins}, span)

    def _store(self, binning: FeatureBinning, parts: list[TableProfile]) -> None:
        bins = binning.digest()
        self.cache.put_many(
            self.kind,
            self.source.mapping.table,
            [(self._key(bins, part.window), part.window, part) for part in parts],
        )
        # What was just counted needs no verifying later in the snapshot.
        DayTotalsReader(self.source).remember(
            {
                day_of_span(part.window): DayTotals(part.rows, part.max_timestamp)
                for part in parts
                if is_whole_day(part.window)
            }
        )

    def _stale(
        self, spans: dict[str, TimeWindow], cached: dict[str, Any], totals: dict[str, DayTotals]
    ) -> set[str]:
        """Keys of `cached` parts (of the day `spans` names by key) whose day no longer holds what the part
        counted, by the day `totals` read now; their days are reported, in time order."""
        stale = set()
        for key, span in spans.items():
            part = cached.get(key)
            if part is None:
                continue
            day = day_of_span(span)
            now = totals.get(day, DayTotals(0, None))
            if (part.rows, part.max_timestamp) != (now.rows, now.latest):
                stale.add(key)
                self.cache.note_recomputed(self.source.mapping.table, day)
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
