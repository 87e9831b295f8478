"""Row and key counts of a keyed table from per-day parts cached in the state database.

A key that holds the table's timestamp (the default key: entity and timestamp) never spans two days, so a window's
rows, distinct keys and conflicting keys are the sums of its days'. Each day's counts are cached with the table's
rows and latest timestamp that day, and verified by them as the features' parts are (`day_totals.py`: in a gate
run, the features' and the score's parts have read them already). A key without the timestamp can repeat across
days: such a table is counted per window.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.sql.expression import ColumnElement

from airflow_retrain_gate.core.profiling.cache import ProfileCache, cache_key
from airflow_retrain_gate.core.profiling.day_totals import DayTotals, DayTotalsReader, day_of_span
from airflow_retrain_gate.core.profiling.keys import count_keys_by_day, merge_key_days
from airflow_retrain_gate.core.profiling.kinds import ProfileKind
from airflow_retrain_gate.core.profiling.missing_days import count_missing_days, wanted_parts
from airflow_retrain_gate.core.profiling.profiles import KeyCounts, KeyDayPart
from airflow_retrain_gate.core.profiling.table_source import TableSource
from airflow_retrain_gate.core.timeframes import TimeWindow


@dataclass(frozen=True)
class KeyDayParts:
    """Counts the rows and keys of windows from their cached day parts, computing only the days missing or stale."""

    cache: ProfileCache
    identity: dict[str, Any]
    """What shapes the counts (the mapping): it names the parts."""
    source: TableSource
    key: dict[str, str]
    value: ColumnElement[Any] | None

    def counts(self, windows: list[TimeWindow]) -> list[KeyCounts]:
        """The key counts of `windows`, merged from day parts."""
        wanted_by_window = wanted_parts(self.source, windows, lambda span: self._key(span))
        wanted = wanted_by_window.spans
        totals = DayTotalsReader(self.source).totals(list(wanted.values()))
        found = {
            key: part.counts
            for key, part in self.cache.get_many(list(wanted)).items()
            if isinstance(part, KeyDayPart)
            and (part.table_rows, part.latest) == _totals_of(totals, wanted[key])
        }
        reused = set(found)
        missing = {key: span for key, span in wanted.items() if key not in reused}
        computed = count_missing_days(
            self.source,
            missing,
            lambda source, covering: count_keys_by_day(source, covering, self.key, self.value),
            lambda parts: self.cache.put_many(
                ProfileKind.KEYS,
                self.source.mapping.table,
                [
                    (key, wanted[key], KeyDayPart(counts, *_totals_of(totals, wanted[key])))
                    for key, counts in parts.items()
                ],
            ),
        )
        found.update(computed)
        for window, window_keys in wanted_by_window.by_window():
            cached = sum(1 for key in window_keys if key in reused)
            if cached:
                self.cache.answered.append(self.source.scan(window, cached / len(window_keys)))
        return [
            merge_key_days(window, [found[key] for key in window_keys])
            for window, window_keys in wanted_by_window.by_window()
        ]

    def _key(self, span: TimeWindow) -> str:
        """The cache key of the counts of `span`."""
        return cache_key(ProfileKind.KEYS, {**self.identity, "part": "day"}, span)


def _totals_of(totals: dict[str, DayTotals], span: TimeWindow) -> tuple[int, Any]:
    """The rows and latest timestamp of the day of `span` now."""
    now = totals.get(day_of_span(span), DayTotals(0, None))
    return now.rows, now.latest
