"""Counting the day parts a run misses: which days one statement counts together, and over which window."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

from airflow_retrain_gate.core.profiling.day_parts import day_spans
from airflow_retrain_gate.core.profiling.profiles import (
    KeyCounts,
    OutcomeProfile,
    ResidualProfile,
    TableProfile,
)
from airflow_retrain_gate.core.profiling.table_source import TableSource
from airflow_retrain_gate.core.timeframes import TimeWindow, touching_runs

SHORT_RUN_DAYS = 2
"""Runs of at most this many missing days (a daily run's new day in each window) are profiled together, in one
set of statements reading only their days, through an index led by the timestamp where PostgreSQL has one; longer
runs each get their own (a restricted scan of the days between them costs more than the statements it saves,
measured on DuckDB)."""

Part = TypeVar("Part", TableProfile, OutcomeProfile, ResidualProfile, KeyCounts)


@dataclass(frozen=True)
class WantedParts:
    """The day parts some windows need: each window (as the source selects it) with its parts' keys in order, and
    every key's day span."""

    windows: list[TimeWindow]
    keys: list[list[str]]
    spans: dict[str, TimeWindow]

    def by_window(self) -> list[tuple[TimeWindow, list[str]]]:
        """Each window with its parts' keys."""
        return list(zip(self.windows, self.keys, strict=True))


def wanted_parts(
    source: TableSource, windows: list[TimeWindow], key_of: Callable[[TimeWindow], str]
) -> WantedParts:
    """The day spans of `windows` (as `source`'s timestamp selects them), named by `key_of(span)`."""
    selected = [source.window_of("timestamp", window) for window in windows]
    spans = [day_spans(window) for window in selected]
    keys = [[key_of(span) for span in window_spans] for window_spans in spans]
    return WantedParts(
        selected,
        keys,
        {
            key: span
            for window_spans, window_keys in zip(spans, keys, strict=True)
            for span, key in zip(window_spans, window_keys, strict=True)
        },
    )


def count_missing_days(
    source: TableSource,
    missing: dict[str, TimeWindow],
    count: Callable[[TableSource, TimeWindow], Sequence[Part]],
    counted: Callable[[dict[str, Part]], None],
    together: bool = False,
) -> dict[str, Part]:
    """The parts of the `missing` day spans (by key). `count(source, window)` returns one part per day span of
    `window` (`day_spans`); it is called over the window from the first to the last span of short runs together,
    with `source` restricted to their rows, and over each long run on its own, or over all of them at once when
    `together` (a join, whose cost is reading the other table, whichever days it is joined to); spans of one day
    (two windows meeting within it) are counted one by one, since a part holds one span. `counted` is given each
    statement's parts as soon as they are counted (to cache them: a run stopped later keeps them)."""
    if not missing:
        return {}
    ordered = sorted(missing.items(), key=lambda item: item[1].start)
    runs = touching_runs(ordered, lambda item: item[1])
    if not together and len(runs) > 1 and any(len(run) > SHORT_RUN_DAYS for run in runs):
        # Each long run reads only its own days; the short ones (a daily run's new days) go together.
        short = [item for run in runs if len(run) <= SHORT_RUN_DAYS for item in run]
        groups = [run for run in runs if len(run) > SHORT_RUN_DAYS] + ([short] if short else [])
    elif len({span.start.date() for _, span in ordered}) < len(ordered):
        groups = [[item] for item in ordered]
    else:
        groups = [ordered]
    if len(groups) > 1:
        return {
            key: part
            for group in groups
            for key, part in count_missing_days(source, dict(group), count, counted, together).items()
        }
    names = " and ".join(dict.fromkeys(span.name for _, span in ordered))
    covering = TimeWindow(names, ordered[0][1].start, ordered[-1][1].end)
    restricted = source if len(runs) == 1 else source.only_within("timestamp", missing.values())
    if all(len(run) <= SHORT_RUN_DAYS for run in runs):
        restricted = restricted.over_few_days()
    by_day = {part.window.start.date(): part for part in count(restricted, covering)}
    parts = {key: replace(by_day[span.start.date()], window=span) for key, span in ordered}
    counted(parts)
    return parts
