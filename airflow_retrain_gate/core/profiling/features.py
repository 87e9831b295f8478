"""Profiles a features table over a window: three aggregate queries, whatever the table's size."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import sqlalchemy as sa

from airflow_retrain_gate.core.moments import Moments, spread_wander
from airflow_retrain_gate.core.policy import FeaturesTable
from airflow_retrain_gate.core.profiling.cache import short_digest
from airflow_retrain_gate.core.profiling.profiles import (
    MISSING,
    OTHER,
    CategoricalProfile,
    NumericProfile,
    TableProfile,
)
from airflow_retrain_gate.core.profiling.queries import (
    NULL_BUCKET,
    LogMagnitudeQuery,
    NumericEdges,
    SummaryDay,
    SummaryQuery,
    TopValues,
    TopValuesQuery,
    category_key,
    day_key,
    grouped,
    raw_key,
    window_rows,
)
from airflow_retrain_gate.core.profiling.table_source import TableSource
from airflow_retrain_gate.core.scans import Scan
from airflow_retrain_gate.core.sql import day_of, within_safe_magnitude
from airflow_retrain_gate.core.timeframes import TimeWindow, to_utc

RAW_CATEGORY_LIMIT = 200
"""Categorical columns with at most this many values a day are counted by their raw values: without a segment, their
top values come back with every value of such a day, which is the histogram; with one, grouped per segment."""
STRAYING_SPREAD = math.log(1.25)
"""A column whose daily spread strays this far (log ratio) from the median day's is heavy-tailed enough for its
log-magnitudes to be counted: one outlier moves its day's spread. Below scale_shift's own mark (half of the log of
its `min_factor`, 3 by default), so the columns that check judges as heavy-tailed have them; a light-tailed column
(a day's spread within a few percent of the others') does not pay for the logarithms."""
MIN_DAY_VALUES = 30
"""Days with fewer values do not say how far a column's spread strays."""


Read = tuple[Any, str, tuple[Scan, ...]]
"""A statement, its purpose and the scans it reads, as `Warehouse.fetch_all` takes them."""


def spread_strays(days: Sequence[Moments]) -> bool:
    """Whether the spread of some day (of MIN_DAY_VALUES values or more) strays STRAYING_SPREAD from the median
    day's."""
    return spread_wander(days, MIN_DAY_VALUES) >= STRAYING_SPREAD


@dataclass(frozen=True)
class ProfileSettings:
    """Resolution of profiles: fine histogram bins per numeric column, tracked categories per column."""

    fine_bins: int = 100
    top_k: int = 50


@dataclass(frozen=True)
class FeatureBinning:
    """Bins every window is counted on, derived once from the reference window."""

    numeric: dict[str, NumericEdges]
    categories: dict[str, tuple[str, ...]]
    segments: tuple[str, ...]
    magnitudes: tuple[str, ...] = ()
    """Numeric columns whose daily log-magnitudes are counted: those whose spread strayed by day in the reference
    (`spread_strays`)."""

    @classmethod
    def of(cls, reference: TableProfile) -> FeatureBinning:
        """The binning a reference profile was counted on."""
        numeric = {
            name: NumericEdges(profile.edges[0], profile.edges[-1], max(len(profile.edges) - 1, 1))
            for name, profile in reference.numeric.items()
        }
        categories = {name: profile.categories for name, profile in reference.categorical.items()}
        segments = tuple(value for value in reference.segments if value not in (OTHER, MISSING))
        magnitudes = tuple(
            name for name, profile in reference.numeric.items() if profile.daily_log_magnitudes
        )
        return cls(numeric, categories, segments, magnitudes)

    def to_dict(self) -> dict[str, Any]:
        """JSON form: each numeric column's (low, high, bins), the tracked categories and segments, and the
        columns whose log-magnitudes are counted."""
        return {
            "numeric": {name: [edges.low, edges.high, edges.bins] for name, edges in self.numeric.items()},
            "categories": {name: list(values) for name, values in self.categories.items()},
            "segments": list(self.segments),
            "magnitudes": list(self.magnitudes),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureBinning:
        """Inverse of `to_dict` (sequences may come back as tuples)."""
        return cls(
            numeric={
                name: NumericEdges(float(low), float(high), int(bins))
                for name, (low, high, bins) in data["numeric"].items()
            },
            categories={name: tuple(values) for name, values in data["categories"].items()},
            segments=tuple(data["segments"]),
            magnitudes=tuple(data.get("magnitudes", ())),
        )

    def digest(self) -> str:
        """A short stable hash of the bins, naming the parts counted on them."""
        return short_digest(self.to_dict())


def profile_features(
    source: TableSource, window: TimeWindow, binning: FeatureBinning | None, settings: ProfileSettings
) -> TableProfile:
    """Profile every mapped feature column of `source` over `window`, on `binning` (None: derive it here).

    On a warehouse server the window is cut into day-aligned parts queried concurrently: the per-day
    aggregates of each part are final, so the parts' rows are simply put together.
    """
    mapping: FeaturesTable = source.mapping  # type: ignore[assignment]
    warehouse = source.warehouse
    window = source.window_of("timestamp", window)
    numeric_names, categorical_names = list(mapping.numeric), list(mapping.categorical)
    timestamp = source.column("timestamp")
    columns: dict[str, Any] = {"day": day_of(timestamp), "ts": timestamp}
    columns.update({f"v{i}": source.number(f"numeric[{i}]", name) for i, name in enumerate(numeric_names)})
    columns.update({f"m{i}": within_safe_magnitude(columns[f"v{i}"]) for i in range(len(numeric_names))})
    columns.update(
        {f"c{i}": source.named(name, f"categorical[{i}]") for i, name in enumerate(categorical_names)}
    )
    if mapping.segment:
        columns["seg"] = source.column("segment")
    parts = window.split(warehouse.concurrency)
    part_rows = [
        window_rows(source.clause, source.in_window("timestamp", part), columns, warehouse.dialect)
        for part in parts
    ]
    whole = (
        part_rows[0]
        if len(parts) == 1
        else window_rows(source.clause, source.in_window("timestamp", window), columns, warehouse.dialect)
    )
    days = [day.isoformat() for day in window.days()]
    day_index = {day: index for index, day in enumerate(days)}
    purpose = f"profile {mapping.table} {window.name}"
    whole_window = (source.scan(window),)
    part_scans = [(source.scan(window, len(part.days()) / len(days)),) for part in parts]

    def numeric_of(rows: Any) -> list[Any]:
        return [rows.c[f"v{i}"] for i in range(len(numeric_names))]

    def safe_of(rows: Any) -> list[Any]:
        return [rows.c[f"m{i}"] for i in range(len(numeric_names))]

    def categorical_of(rows: Any) -> list[Any]:
        return [rows.c[f"c{i}"] for i in range(len(categorical_names))]

    summaries = [
        SummaryQuery.build(
            rows,
            list(zip(numeric_of(rows), safe_of(rows), strict=True)),
            categorical_of(rows),
        )
        for rows in part_rows
    ]
    queries: list[Read] = [
        (summary.statement, f"{purpose}: summary{_part_label(part, parts)}", scans)
        for summary, part, scans in zip(summaries, parts, part_scans, strict=True)
    ]
    # Without a segment (whose counts need groups of their own), a categorical column's histogram is counted
    # with its top values, after grouping: every column on bins known beforehand (its tracked values are kept
    # whatever their rank), else each column of few values a day (its days come back whole). Then no statement
    # waits for another on known bins: every read goes at once.
    known_bins = binning is not None and not mapping.segment
    ranked_columns = categorical_of(whole) + ([whole.c.seg] if mapping.segment else [])
    top_query = None
    if ranked_columns:
        top_query = TopValuesQuery.build(
            whole,
            ranked_columns,
            settings.top_k,
            warehouse.supports_grouping_sets,
            by_day=True,
            kept=[binning.categories[name] for name in categorical_names]
            if binning is not None and known_bins
            else [],
            whole_below=0 if mapping.segment else RAW_CATEGORY_LIMIT,
        )
        queries.append((top_query.statement, f"{purpose}: top values", whole_window))

    def counted_by_top(distinct: dict[int, int]) -> set[int]:
        """The categorical columns (by index) whose histograms the top values hold, by each one's most distinct
        values a day."""
        if mapping.segment:
            return set()
        return {
            index
            for index in range(len(categorical_names))
            if known_bins or distinct.get(index, 0) <= RAW_CATEGORY_LIMIT
        }

    def binned_reads(binning: FeatureBinning, distinct: dict[int, int]) -> _BinnedReads:
        """The histograms and log-magnitudes of each part on `binning`: categorical columns only where the top
        values do not hold them (by `distinct`, each column's most distinct values a day)."""
        keyed = set(range(len(categorical_names))) - counted_by_top(distinct)
        histograms: list[Read] = []
        for rows, part, scans in zip(part_rows, parts, part_scans, strict=True):
            buckets = [
                binning.numeric[name].bucket(value)
                for name, value in zip(numeric_names, numeric_of(rows), strict=True)
            ]
            categories = {
                index: _category(value, binning.categories[name], distinct.get(index))
                for index, (name, value) in enumerate(
                    zip(categorical_names, categorical_of(rows), strict=True)
                )
                if index in keyed
            }
            segment = (
                _category(rows.c.seg, binning.segments, distinct.get(len(categorical_names)))
                if mapping.segment
                else None
            )
            query = _histogram_query(rows, buckets, categories, segment, warehouse.supports_grouping_sets)
            if query is not None:
                histograms.append((query, f"{purpose}: histograms{_part_label(part, parts)}", scans))
        straying = [index for index, name in enumerate(numeric_names) if name in binning.magnitudes]
        magnitudes = [
            (LogMagnitudeQuery.build(rows, [safe_of(rows)[index] for index in straying]), part, scans)
            for rows, part, scans in zip(part_rows, parts, part_scans, strict=True)
            if straying
        ]
        return _BinnedReads(
            histograms,
            [
                (query.statement, f"{purpose}: log-magnitudes{_part_label(part, parts)}", scans)
                for query, part, scans in magnitudes
            ],
            [query for query, _, _ in magnitudes],
            [numeric_names[index] for index in straying],
        )

    early = binned_reads(binning, {}) if binning is not None and known_bins else None
    results = warehouse.fetch_all(queries + (early.reads if early else []))
    summary = _Summary.decode(
        [query.decode(rows) for query, rows in zip(summaries, results[: len(parts)], strict=True)],
        numeric_names,
        categorical_names,
        day_index,
    )
    top = (
        top_query.decode(results[len(parts)])
        if top_query is not None
        else TopValues(values={}, distinct={}, daily={})
    )
    if binning is None:
        binning = FeatureBinning(
            numeric={
                name: NumericEdges.from_range(
                    moments.minimum, moments.maximum, moments.mean, moments.std, settings.fine_bins
                )
                for name, moments in summary.moments.items()
            },
            categories={
                name: tuple(value for value, _ in top.values.get(index, []) if value != MISSING)
                for index, name in enumerate(categorical_names)
            },
            segments=tuple(
                value
                for value, _ in top.values.get(len(categorical_names), [])
                if value not in (OTHER, MISSING)
            ),
            magnitudes=tuple(name for name in numeric_names if spread_strays(summary.daily_moments[name])),
        )
    binned = early or binned_reads(binning, top.distinct)
    binned_results = results[len(queries) :] if early else warehouse.fetch_all(binned.reads)
    bins_rows = [row for rows in binned_results[: len(binned.histograms)] for row in rows]
    by_day: dict[str, list[Moments]] = {}
    for query, rows in zip(binned.magnitudes, binned_results[len(binned.histograms) :], strict=True):
        by_day.update(query.decode(rows))
    log_magnitudes = {
        name: tuple(by_day[day][position] if day in by_day else Moments() for day in days)
        for position, name in enumerate(binned.straying)
    }
    return _assemble(
        mapping,
        window,
        days,
        day_index,
        summary,
        binning,
        bins_rows,
        top,
        counted_by_top(top.distinct),
        source,
        log_magnitudes,
    )


@dataclass(frozen=True)
class _BinnedReads:
    """The statements of a profile that need its bins: histograms, then log-magnitudes of the straying columns."""

    histograms: list[Read]
    magnitude_reads: list[Read]
    magnitudes: list[LogMagnitudeQuery]
    straying: list[str]
    """The numeric columns whose log-magnitudes are read, in the order of each query's measures."""

    @property
    def reads(self) -> list[Read]:
        """Every statement, histograms first."""
        return self.histograms + self.magnitude_reads


def _histogram_query(
    rows: Any,
    buckets: list[Any],
    categories: dict[int, Any],
    segment: Any | None,
    grouping_sets: bool,
) -> Any:
    """Rows per day (and per day and segment) of each numeric column's bucket and each key of `categories` (by the
    column's index among the categorical ones), in one statement (None without columns); `_RowPositions` reads back
    the labels written here."""
    keys: dict[str, Any] = {"day": rows.c.day}
    keys.update({_bucket_label(index): bucket for index, bucket in enumerate(buckets)})
    keys.update({_category_label(index): category for index, category in categories.items()})
    value_keys = [key for key in keys if key != "day"]
    sets: list[tuple[str, ...]] = [("day", key) for key in value_keys]
    if segment is not None:
        keys["seg"] = segment
        sets += [("day", "seg", key) for key in value_keys] + [("day", "seg")]
    count = [sa.func.count().label("n")]
    return grouped(rows, [], keys, sets, count, grouping_sets) if sets else None


def _bucket_label(index: int) -> str:
    return f"b{index}"


def _category_label(index: int) -> str:
    return f"c{index}"


@dataclass(frozen=True)
class _RowPositions:
    """Where a histogram row holds its day, segment, count and each column's bucket or category key."""

    day: int | None
    segment: int | None
    count: int
    numeric: tuple[tuple[int, str], ...]
    categorical: tuple[tuple[int, str], ...]

    @classmethod
    def of(cls, fields: Sequence[str], numeric: list[str], categorical: list[str]) -> _RowPositions:
        """Positions of `_histogram_query`'s labels among `fields` (a result row's column names)."""
        at = {name: index for index, name in enumerate(fields)}
        return cls(
            at.get("day"),
            at.get("seg"),
            at.get("n", 0),
            tuple((at[_bucket_label(i)], name) for i, name in enumerate(numeric) if _bucket_label(i) in at),
            tuple(
                (at[_category_label(i)], name)
                for i, name in enumerate(categorical)
                if _category_label(i) in at
            ),
        )


def _part_label(part: TimeWindow, parts: list[TimeWindow]) -> str:
    """' (days a..b)' when the window is queried in parts, else ''."""
    if len(parts) == 1:
        return ""
    last = part.days()[-1]
    return f" ({part.start.date().isoformat()}..{last.isoformat()})"


@dataclass
class _Summary:
    rows: np.ndarray
    min_timestamp: datetime | None
    max_timestamp: datetime | None
    daily_min_timestamps: list[datetime | None]
    daily_max_timestamps: list[datetime | None]
    daily_moments: dict[str, list[Moments]]
    moments: dict[str, Moments]
    daily_nonnull: dict[str, np.ndarray]

    @classmethod
    def decode(
        cls,
        parts: list[tuple[SummaryDay, ...]],
        numeric: list[str],
        categorical: list[str],
        day_index: dict[str, int],
    ) -> _Summary:
        """The window's summary from the decoded summaries of its parts."""
        size = len(day_index)
        daily_rows = np.zeros(size, dtype=np.int64)
        daily_moments = {name: [Moments()] * size for name in numeric}
        daily_nonnull = {name: np.zeros(size, dtype=np.int64) for name in numeric + categorical}
        daily_min: list[datetime | None] = [None] * size
        daily_max: list[datetime | None] = [None] * size
        for part in parts:
            for day in part:
                position = day_index.get(day_key(day.day))
                if position is None:
                    continue
                daily_rows[position] = day.rows
                daily_max[position] = None if day.max_ts is None else to_utc(day.max_ts)
                daily_min[position] = None if day.min_ts is None else to_utc(day.min_ts)
                for name, aggregates in zip(numeric, day.numeric, strict=True):
                    daily_nonnull[name][position] = aggregates.count
                    daily_moments[name][position] = Moments.from_aggregates(
                        aggregates.safe_count,
                        aggregates.mean,
                        aggregates.variance,
                        aggregates.minimum,
                        aggregates.maximum,
                        aggregates.count - aggregates.safe_count,
                    )
                for name, count in zip(categorical, day.categorical, strict=True):
                    daily_nonnull[name][position] = count
        moments = {name: Moments.combine_all(parts) for name, parts in daily_moments.items()}
        return cls(
            daily_rows,
            min((stamp for stamp in daily_min if stamp is not None), default=None),
            max((stamp for stamp in daily_max if stamp is not None), default=None),
            daily_min,
            daily_max,
            daily_moments,
            moments,
            daily_nonnull,
        )


def _assemble(
    mapping: FeaturesTable,
    window: TimeWindow,
    days: list[str],
    day_index: dict[str, int],
    summary: _Summary,
    binning: FeatureBinning,
    bins_rows: list[Any],
    top: TopValues,
    counted_by_top: set[int],
    source: TableSource,
    log_magnitudes: dict[str, tuple[Moments, ...]],
) -> TableProfile:
    size = len(days)
    numeric_daily = {
        name: np.zeros((size, edges.slots), dtype=np.int64) for name, edges in binning.numeric.items()
    }
    categorical_slots = {name: len(values) + 1 for name, values in binning.categories.items()}
    categorical_daily = {
        name: np.zeros((size, slots), dtype=np.int64) for name, slots in categorical_slots.items()
    }
    column_slots = {**{name: edges.slots for name, edges in binning.numeric.items()}, **categorical_slots}
    by_segment: dict[str, dict[str, np.ndarray]] = {name: {} for name in column_slots}
    """Column -> segment -> [day][slot]."""
    segment_slots = [*binning.segments, OTHER, MISSING]
    segment_daily = np.zeros((size, len(segment_slots)), dtype=np.int64)
    numeric_names, categorical_names = list(mapping.numeric), list(mapping.categorical)
    category_slots = {
        name: {value: slot for slot, value in enumerate(values)}
        for name, values in binning.categories.items()
    }
    positions = _RowPositions.of(bins_rows[0]._fields if bins_rows else (), numeric_names, categorical_names)
    day_positions: dict[Any, int | None] = {}
    for row in bins_rows:
        day = row[positions.day] if positions.day is not None else None
        if day not in day_positions:
            day_positions[day] = None if day is None else day_index.get(day_key(day))
        position = day_positions[day]
        if position is None:
            continue
        segment = row[positions.segment] if positions.segment is not None else None
        count = int(row[positions.count])
        found = _slot_of(row, positions, binning, category_slots)
        if found is None:
            if segment is not None:
                segment_daily[position, _segment_slot(segment_slots, segment)] += count
            continue
        name, slot = found
        if slot is None:
            continue  # a NULL value: counted by the summary's nulls, in no slot
        if segment is None:
            daily = numeric_daily[name] if name in numeric_daily else categorical_daily[name]
            daily[position, slot] += count
        else:
            segments = by_segment[name]
            if str(segment) not in segments:
                segments[str(segment)] = np.zeros((size, column_slots[name]), np.int64)
            segments[str(segment)][position, slot] += count
    for index in counted_by_top:
        name = categorical_names[index]
        _count_from_top(
            categorical_daily[name],
            top.daily_counts.get(index, {}),
            binning.categories[name],
            summary.daily_nonnull[name],
            day_index,
        )

    def segment_fields(name: str) -> dict[str, Any]:
        return {
            "segment_counts": {key: _ints(counts.sum(axis=0)) for key, counts in by_segment[name].items()},
            "daily_segment_counts": {
                key: tuple(_ints(day) for day in counts) for key, counts in by_segment[name].items()
            },
        }

    def null_fields(name: str) -> dict[str, Any]:
        daily_nulls = summary.rows - summary.daily_nonnull[name]
        return {"nulls": int(daily_nulls.sum()), "daily_nulls": _ints(daily_nulls)}

    numeric_profiles = {}
    for name in numeric_names:
        daily = numeric_daily[name]
        numeric_profiles[name] = NumericProfile(
            column=name,
            moments=summary.moments[name],
            edges=binning.numeric[name].edges,
            counts=_ints(daily.sum(axis=0)),
            daily_counts=tuple(_ints(day) for day in daily),
            daily_moments=tuple(summary.daily_moments[name]),
            daily_log_magnitudes=log_magnitudes.get(name, ()),
            **null_fields(name),
            **segment_fields(name),
        )
    categorical_profiles = {}
    for index, name in enumerate(categorical_names):
        daily = categorical_daily[name]
        daily_top = top.daily.get(index, {})
        categorical_profiles[name] = CategoricalProfile(
            column=name,
            categories=binning.categories[name],
            counts=_ints(daily.sum(axis=0)),
            daily_counts=tuple(_ints(day) for day in daily),
            top_values=tuple(top.values.get(index, [])),
            daily_top_values=tuple(tuple(daily_top.get(day, ())) for day in days),
            **null_fields(name),
            **segment_fields(name),
        )
    return TableProfile(
        table=source.info.qualified_name,
        window=window,
        rows=int(summary.rows.sum()),
        max_timestamp=summary.max_timestamp,
        min_timestamp=summary.min_timestamp,
        days=tuple(days),
        daily_rows=_ints(summary.rows),
        numeric=numeric_profiles,
        categorical=categorical_profiles,
        segments=tuple(segment_slots) if mapping.segment else (),
        segment_rows=_ints(segment_daily.sum(axis=0)) if mapping.segment else (),
        daily_segment_rows=tuple(_ints(day) for day in segment_daily) if mapping.segment else (),
        column_types={name: column.sql_type for name, column in source.info.columns.items()},
        daily_min_timestamps=tuple(summary.daily_min_timestamps),
        daily_max_timestamps=tuple(summary.daily_max_timestamps),
    )


def _count_from_top(
    daily: np.ndarray,
    counted: dict[str, dict[str, int]],
    tracked: tuple[str, ...],
    nonnull: np.ndarray,
    day_index: dict[str, int],
) -> None:
    """Fill a categorical column's [day][slot] counts from its top values' rows by day and value: each tracked
    value's rows, and the rest of the day's `nonnull` rows in the last slot, OTHER."""
    for day, values in counted.items():
        position = day_index.get(day)
        if position is None:
            continue
        daily[position, :-1] = [values.get(value, 0) for value in tracked]
        daily[position, -1] = max(int(nonnull[position]) - int(daily[position, :-1].sum()), 0)


def _slot_of(
    row: Any,
    positions: _RowPositions,
    binning: FeatureBinning,
    category_slots: dict[str, dict[str, int]],
) -> tuple[str, int | None] | None:
    """The column a histogram row counts and its slot (None for NULL values); None for a row of no column."""
    for at, name in positions.numeric:
        bucket = row[at]
        if bucket is not None:
            bucket = int(bucket)
            slots = binning.numeric[name].slots
            return name, None if bucket == NULL_BUCKET else min(max(bucket + 1, 0), slots - 1)
    for at, name in positions.categorical:
        key = row[at]
        if key is not None:
            return name, None if key == MISSING else category_slots[name].get(
                key, len(binning.categories[name])
            )
    return None


def _ints(values: Any) -> tuple[int, ...]:
    return tuple(int(value) for value in values)


def _category(column: Any, tracked: tuple[str, ...], distinct: int | None) -> Any:
    """SQL key of a categorical column: its raw value when it has few, else tracked values and OTHER.

    Mapping every row through an IN list costs as much as the rest of the histogram query; grouping by
    the raw value returns at most RAW_CATEGORY_LIMIT rows a day, mapped to slots in Python.
    """
    if distinct is not None and distinct <= RAW_CATEGORY_LIMIT:
        return raw_key(column)
    return category_key(column, tracked)


def _segment_slot(slots: list[str], segment: str) -> int:
    return slots.index(segment) if segment in slots else slots.index(OTHER)
