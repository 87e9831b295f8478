"""Judged outcome windows from per-day parts cached in the state database, as the features' are (`incremental.py`).

A part is one prediction day's outcome profile on the outcome baseline's bins, counted with the labels known by
the run that computed it. Labels keep arriving for recent predictions, so a part also records what it was
counted from: the day's prediction rows and latest timestamp, its own outcome rows per label day, and the
outcomes table's labels per label day up to its run. Each run verifies the parts it merges with cheap reads:

- the predictions per day (rows, latest timestamp), as for the features (and shared with the score's parts);
- the labels per label day since the windows' first day (rows, latest timestamp), from the outcomes table alone;
- only where some label day changed since a part's run (labels loaded late, or deleted) or labels arrived after
  it: each questioned prediction day's outcome rows on just those label days, in one join, against its part's.

A part is counted again when its predictions changed, or when its outcome rows on a questioned label day did.
Labels arriving for recent predictions are how outcomes mature: those days are counted again silently; a day
whose predictions, or whose labels on an earlier label day, changed is named in the decision, as a late features
day is. A run stamps the labels it found (`OutcomeLabelStamp`), so the next one questions only the label days
since. Labels dated before their prediction's day are counted when a part is computed but not verified (they
are a broken join, which `label_timing` reports).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from airflow_retrain_gate.core.profiling.cache import ProfileCache, cache_key
from airflow_retrain_gate.core.profiling.day_totals import DayTotals, DayTotalsReader, day_of_span
from airflow_retrain_gate.core.profiling.kinds import ProfileKind
from airflow_retrain_gate.core.profiling.missing_days import count_missing_days, wanted_parts
from airflow_retrain_gate.core.profiling.outcomes import (
    LABELS_SPAN,
    OutcomeBinning,
    merge_outcome_days,
    outcome_days,
)
from airflow_retrain_gate.core.profiling.profiles import OutcomeDayPart, OutcomeLabelStamp, OutcomeProfile
from airflow_retrain_gate.core.profiling.queries import day_key
from airflow_retrain_gate.core.profiling.table_source import TableSource
from airflow_retrain_gate.core.sql import day_of
from airflow_retrain_gate.core.timeframes import TimeWindow, midnight, to_utc

log = logging.getLogger("airflow_retrain_gate")

LabelDays = dict[str, tuple[int, datetime | None]]
"""Label day (ISO) -> labels dated that day and their latest timestamp."""


@dataclass(frozen=True)
class _Suspect:
    """A cached part whose labels may have changed: the whole label days it recorded that hold more labels now,
    and the instant its labels were counted by (labels dated later are new to it)."""

    grown: frozenset[str]
    counted_by: datetime

    def questioned(self, label_days: set[str]) -> set[str]:
        """Of `label_days` (on which the part's day has labels grown or newer than its count), those that make
        the part stale."""
        new_from = self.counted_by.date().isoformat()
        return {label_day for label_day in label_days if label_day in self.grown or label_day >= new_from}


@dataclass
class OutcomeDayParts:
    """Profiles judged outcome windows from their cached day parts, computing only the days missing or stale."""

    cache: ProfileCache
    identity: dict[str, Any]
    """What shapes the outcome profiles (the mappings, the settings): with the bins' digest, it names the parts."""
    predictions: TableSource
    outcomes: TableSource
    as_of: datetime
    settled: dict[tuple[datetime, datetime], datetime] = field(default_factory=dict)
    """After `profiles`: (start, end) of each day span -> the instant since which its labels have not changed
    (`residual_parts.py` reuses a residual part counted since)."""

    def profiles(self, windows: list[TimeWindow], binning: OutcomeBinning) -> list[OutcomeProfile]:
        """The outcome profiles of `windows` (already judged windows) on `binning`, merged from day parts; the
        stray labels are not named (`with_stray_labels`)."""
        bins = binning.digest()
        wanted_by_window = wanted_parts(self.predictions, windows, lambda span: self._key(bins, span))
        wanted = wanted_by_window.spans
        stamp_key = cache_key(
            ProfileKind.OUTCOMES, {**self.identity, "part": "label stamp", "bins": bins}, None
        )
        stored = self.cache.get_many([*wanted, stamp_key])
        cached = {key: part for key, part in stored.items() if isinstance(part, OutcomeDayPart)}
        stored_stamp = stored.get(stamp_key)
        predicted = DayTotalsReader(self.predictions).totals(list(wanted.values()))
        labels = self._label_days(min(span.start for span in wanted.values()))
        stale = self._stale(
            wanted,
            cached,
            predicted,
            labels,
            stored_stamp if isinstance(stored_stamp, OutcomeLabelStamp) else None,
        )
        found = {key: part.profile for key, part in cached.items() if key not in stale}
        # Since when each day's labels are known not to have changed: its part's count, or this run's.
        self.settled = {
            (span.start, span.end): cached[key].labels_as_of if key in found else self.as_of
            for key, span in wanted.items()
        }
        missing = {key: span for key, span in wanted.items() if key not in found}
        found.update(self._compute(binning, missing, predicted, labels))
        profiles = []
        for window, window_keys in wanted_by_window.by_window():
            reused = sum(1 for key in window_keys if key in cached and key not in stale)
            self.cache.tally_joined_parts(ProfileKind.OUTCOMES, reused, len(window_keys) - reused)
            if reused:  # the join's reads that the cached days spared
                share = reused / len(window_keys)
                self.cache.answered += [
                    self.predictions.scan(window, share),
                    self.outcomes.scan(LABELS_SPAN, share),
                ]
            profiles.append(merge_outcome_days(window, [found[key] for key in window_keys]))
        # Every part merged holds the labels known by as_of now: the next run asks only about labels since.
        stamp = OutcomeLabelStamp(self.as_of, labels, tuple(wanted))
        verified = TimeWindow(
            "verified", min(span.start for span in wanted.values()), max(span.end for span in wanted.values())
        )
        self.cache.put_many(ProfileKind.OUTCOMES, self.outcomes.mapping.table, [(stamp_key, verified, stamp)])
        return profiles

    def _key(self, bins: str, span: TimeWindow) -> str:
        """The cache key of the part of `span` counted on the outcome bins of digest `bins`."""
        return cache_key(ProfileKind.OUTCOMES, {**self.identity, "part": "day", "bins": bins}, span)

    def _label_days(self, since: datetime) -> LabelDays:
        """Labels known by as_of per label day, from the day of `since` on, read from the outcomes table alone."""
        label_time = self.outcomes.column("label_timestamp")
        day = day_of(label_time).label("day")
        query = (
            sa.select(day, sa.func.count().label("rows"), sa.func.max(label_time).label("latest"))
            .select_from(self.outcomes.clause)
            .where(
                label_time >= self.outcomes.instant("label_timestamp", midnight(since.date())),
                label_time <= self.outcomes.instant("label_timestamp", self.as_of),
                *self.outcomes.filters(),
            )
            .group_by(day)
        )
        rows = self.outcomes.warehouse.fetch(
            query,
            f"verify cached parts of {self.outcomes.mapping.table}: labels by day",
            (self.outcomes.scan(LABELS_SPAN),),
        )
        return {
            day_key(row.day): (int(row.rows), None if row.latest is None else to_utc(row.latest))
            for row in rows
        }

    def _stale(
        self,
        spans: dict[str, TimeWindow],
        cached: dict[str, OutcomeDayPart],
        predicted: dict[str, DayTotals],
        labels: LabelDays,
        stamp: OutcomeLabelStamp | None,
    ) -> set[str]:
        """Keys of `cached` parts that no longer hold what their day holds now; days whose predictions or earlier
        labels changed are reported."""
        stale: set[str] = set()
        suspects: dict[str, _Suspect] = {}
        for key in sorted(cached, key=lambda key: spans[key].start):  # days reported in time order
            part = cached[key]
            day = day_of_span(spans[key])
            now = predicted.get(day, DayTotals(0, None))
            if part.labels_as_of > self.as_of:
                stale.add(key)  # counted with labels from after as_of (a backtest's earlier date)
                continue
            if (part.predicted, part.latest_prediction) != (now.rows, now.latest):
                stale.add(key)
                self._report(day, f"predictions {part.predicted} -> {now.rows}")
                continue
            recorded, counted_by = self._record(key, day, part, stamp)
            last_day = counted_by.date().isoformat()  # counted up to `counted_by` only
            questioned = {label_day for label_day in labels if day <= label_day <= last_day} | recorded.keys()
            changed = {
                label_day
                for label_day in questioned
                if labels.get(label_day, (0, None)) != recorded.get(label_day)
            }
            shrunk = sorted(
                label_day
                for label_day in changed
                if _count(labels, label_day) < _count(recorded, label_day)
                or (label_day < last_day and _count(labels, label_day) == _count(recorded, label_day))
            )
            if shrunk:
                # Labels deleted or replaced: no join can tell which predictions they belonged to.
                stale.add(key)
                self._report(day, f"labels dated {', '.join(shrunk)} deleted or replaced")
                continue
            if changed or any(label_day > last_day for label_day in labels):
                suspects[key] = _Suspect(frozenset(changed - {last_day}), counted_by)
        if suspects:
            touched = self._touched({key: spans[key] for key in suspects}, suspects)
            for key, suspect in suspects.items():
                day = day_of_span(spans[key])
                moved = suspect.questioned(touched.get(day, set()))
                late = sorted(moved & suspect.grown)
                if late:
                    stale.add(key)
                    self._report(day, f"labels dated {', '.join(late)} loaded late")
                elif moved:
                    stale.add(key)  # its labels matured further: not news
        return stale

    def _record(
        self, key: str, day: str, part: OutcomeDayPart, stamp: OutcomeLabelStamp | None
    ) -> tuple[LabelDays, datetime]:
        """The label days (and their labels) that the part under `key`, of `day`, is known to hold, and the instant
        up to which: from the latest run that verified it (`stamp`), or from its own count."""
        if stamp is not None and key in stamp.parts and part.labels_as_of <= stamp.labels_as_of <= self.as_of:
            counted_by, label_days = stamp.labels_as_of, stamp.label_days
        else:
            counted_by, label_days = part.labels_as_of, part.label_days
        last_day = counted_by.date().isoformat()
        return {
            label_day: totals for label_day, totals in label_days.items() if day <= label_day <= last_day
        }, counted_by

    def _touched(self, spans: dict[str, TimeWindow], suspects: dict[str, _Suspect]) -> dict[str, set[str]]:
        """For the prediction days of `spans`, the label days (of those the `suspects` question) on which some of
        their outcomes known by as_of are dated: one join, reading just those label days of the outcomes table."""
        predictions = self.predictions.only_within("timestamp", spans.values())
        label_time = self.outcomes.column("label_timestamp")
        grown = sorted({label_day for suspect in suspects.values() for label_day in suspect.grown})
        counted_by = min(suspect.counted_by for suspect in suspects.values())
        questioned = [self._on_day(label_time, label_day) for label_day in grown]
        questioned.append(label_time > self.outcomes.instant("label_timestamp", counted_by))
        predicted_day = day_of(predictions.column("timestamp")).label("predicted_day")
        label_day = day_of(label_time).label("label_day")
        ordered = sorted(spans.values(), key=lambda span: span.start)
        names = " and ".join(dict.fromkeys(span.name for span in ordered))
        covering = TimeWindow(names, ordered[0].start, ordered[-1].end)
        query = (
            sa.select(predicted_day, label_day)
            .select_from(
                predictions.clause.join(
                    self.outcomes.clause,
                    sa.and_(
                        predictions.column("entity") == self.outcomes.column("entity"),
                        label_time <= self.outcomes.instant("label_timestamp", self.as_of),
                        sa.or_(*questioned),
                        *self.outcomes.filters(),
                    ),
                )
            )
            .where(*predictions.in_window("timestamp", covering))
            .group_by(predicted_day, label_day)
        )
        rows = self.outcomes.warehouse.fetch(
            query,
            f"verify cached parts of {self.outcomes.mapping.table}: labels since the parts",
            (predictions.scan(covering), self.outcomes.scan(LABELS_SPAN)),
        )
        touched: dict[str, set[str]] = {}
        for row in rows:
            touched.setdefault(day_key(row.predicted_day), set()).add(day_key(row.label_day))
        return touched

    def _on_day(self, label_time: sa.ColumnElement[Any], day: str) -> sa.ColumnElement[bool]:
        """SQL: the label is dated on `day` (an ISO date)."""
        start = midnight(date.fromisoformat(day))
        end = start + timedelta(days=1)
        return sa.and_(
            label_time >= self.outcomes.instant("label_timestamp", start),
            label_time < self.outcomes.instant("label_timestamp", end),
        )

    def _compute(
        self,
        binning: OutcomeBinning,
        missing: dict[str, TimeWindow],
        predicted: dict[str, DayTotals],
        labels: LabelDays,
    ) -> dict[str, OutcomeProfile]:
        """The profiles of the `missing` spans (by key), counted (`count_missing_days`) and cached with what they
        were counted from."""
        last_day = self.as_of.date().isoformat()

        def store(parts: dict[str, OutcomeProfile]) -> None:
            entries = []
            for key, part in parts.items():
                day = day_of_span(missing[key])
                now = predicted.get(day, DayTotals(0, None))
                recorded = {
                    label_day: totals for label_day, totals in labels.items() if day <= label_day <= last_day
                }
                entries.append(
                    (key, missing[key], OutcomeDayPart(part, now.rows, now.latest, self.as_of, recorded))
                )
            self.cache.put_many(ProfileKind.OUTCOMES, self.outcomes.mapping.table, entries)

        return count_missing_days(
            self.predictions,
            missing,
            lambda source, covering: outcome_days(source, self.outcomes, covering, self.as_of, binning),
            store,
            together=True,
        )

    def _report(self, day: str, why: str) -> None:
        self.cache.note_recomputed(self.outcomes.mapping.table, day)
        log.info(
            "%s %s: %s since its outcome part was cached: recomputed", self.outcomes.mapping.table, day, why
        )


def _count(label_days: LabelDays, day: str) -> int:
    """The labels dated `day` (none if it is not listed)."""
    return label_days.get(day, (0, None))[0]
