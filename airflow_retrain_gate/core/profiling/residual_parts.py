"""Residuals by feature bin from per-day parts cached in the state database, beside the outcome parts.

A residual part is one prediction day's residuals, counted on the features' pinned bins. It holds what that day's
outcome part holds (the predictions and the labels known when it was counted), joined to the features rows of
the same day. So it is reused while its day's outcome part was verified unchanged since the residual part was
counted (`OutcomeDayParts.settled`), and the features table holds the rows and latest timestamp that day that it
held then (read once per run, with the features' own parts). A window's partial first or last day is counted
afresh each run: the features it joins are those of the whole day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from airflow_retrain_gate.core.profiling.cache import ProfileCache, cache_key
from airflow_retrain_gate.core.profiling.day_totals import (
    DayTotals,
    DayTotalsReader,
    day_of_span,
    is_whole_day,
)
from airflow_retrain_gate.core.profiling.features import FeatureBinning
from airflow_retrain_gate.core.profiling.kinds import ProfileKind
from airflow_retrain_gate.core.profiling.missing_days import count_missing_days, wanted_parts
from airflow_retrain_gate.core.profiling.outcomes import LABELS_SPAN
from airflow_retrain_gate.core.profiling.profiles import ResidualDayPart, ResidualProfile
from airflow_retrain_gate.core.profiling.residuals import (
    merge_residual_days,
    profile_residuals,
    split_residual_days,
)
from airflow_retrain_gate.core.profiling.table_source import TableSource
from airflow_retrain_gate.core.timeframes import TimeWindow


@dataclass(frozen=True)
class ResidualDayParts:
    """Profiles the residuals of judged windows from their cached day parts, computing only the days missing or
    stale."""

    cache: ProfileCache
    identity: dict[str, Any]
    """What shapes the residual profiles (the mappings, the settings): with the bins' digest, it names the parts."""
    predictions: TableSource
    outcomes: TableSource
    features: TableSource
    as_of: datetime

    def profiles(
        self,
        windows: list[TimeWindow],
        binning: FeatureBinning,
        settled: dict[tuple[datetime, datetime], datetime],
    ) -> list[ResidualProfile]:
        """The residual profiles of `windows` (judged windows) on the features' `binning`, merged from day parts;
        `settled` says since when each day's labels are unchanged (`OutcomeDayParts.settled`)."""
        bins = binning.digest()
        wanted_by_window = wanted_parts(self.predictions, windows, lambda span: self._key(bins, span))
        wanted = wanted_by_window.spans
        whole = [span for span in wanted.values() if is_whole_day(span)]
        featured = DayTotalsReader(self.features).totals(whole) if whole else {}
        found: dict[str, ResidualProfile] = {}
        for key, part in self.cache.get_many(
            [key for key, span in wanted.items() if is_whole_day(span)]
        ).items():
            span = wanted[key]
            since = settled.get((span.start, span.end))
            now = featured.get(day_of_span(span), DayTotals(0, None))
            if (
                isinstance(part, ResidualDayPart)
                and since is not None
                and since <= part.labels_as_of <= self.as_of
                and (part.feature_rows, part.latest_feature) == (now.rows, now.latest)
            ):
                found[key] = part.profile
        reused = set(found)
        found.update(
            self._compute(binning, {key: span for key, span in wanted.items() if key not in reused}, featured)
        )
        profiles = []
        for window, window_keys in wanted_by_window.by_window():
            cached = sum(1 for key in window_keys if key in reused)
            self.cache.tally_joined_parts(ProfileKind.RESIDUALS, cached, len(window_keys) - cached)
            if cached:  # the join's reads that the cached days spared
                share = cached / len(window_keys)
                self.cache.answered += [
                    self.predictions.scan(window, share),
                    self.outcomes.scan(LABELS_SPAN, share),
                    self.features.scan(window, share),
                ]
            profiles.append(merge_residual_days(window, [found[key] for key in window_keys]))
        return profiles

    def _key(self, bins: str, span: TimeWindow) -> str:
        """The cache key of the part of `span` counted on the features' bins of digest `bins`."""
        return cache_key(ProfileKind.RESIDUALS, {**self.identity, "part": "day", "bins": bins}, span)

    def _compute(
        self, binning: FeatureBinning, missing: dict[str, TimeWindow], featured: dict[str, DayTotals]
    ) -> dict[str, ResidualProfile]:
        """The profiles of the `missing` spans (by key), counted (`count_missing_days`); whole days are cached with
        what they were counted from."""

        def store(parts: dict[str, ResidualProfile]) -> None:
            entries = []
            for key, part in parts.items():
                span = missing[key]
                if is_whole_day(span):
                    now = featured.get(day_of_span(span), DayTotals(0, None))
                    entries.append((key, span, ResidualDayPart(part, self.as_of, now.rows, now.latest)))
            if entries:
                self.cache.put_many(ProfileKind.RESIDUALS, self.features.mapping.table, entries)

        return count_missing_days(
            self.predictions,
            missing,
            lambda source, covering: split_residual_days(
                profile_residuals(source, self.outcomes, self.features, covering, self.as_of, binning)
            ),
            store,
            together=True,
        )
