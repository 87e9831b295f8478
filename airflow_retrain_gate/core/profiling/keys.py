"""Counts rows and distinct keys of a keyed table (features, predictions) over a window, in one aggregate query."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.expression import ColumnElement

from airflow_retrain_gate.core.profiling.day_parts import day_spans
from airflow_retrain_gate.core.profiling.profiles import KeyCounts
from airflow_retrain_gate.core.profiling.queries import day_key
from airflow_retrain_gate.core.profiling.table_source import TableSource
from airflow_retrain_gate.core.sql import day_of
from airflow_retrain_gate.core.timeframes import TimeWindow


def count_keys(
    source: TableSource, window: TimeWindow, key: dict[str, str], value: ColumnElement[Any] | None = None
) -> KeyCounts:
    """Rows, distinct keys and keys whose rows disagree on `value`, of `source` in `window`.

    Keys are grouped in a subquery and only the totals come back: COUNT(DISTINCT a, b) is not portable.
    Rows with a NULL key column are left out (a missing key is not a duplicate).
    """
    window = source.window_of("timestamp", window)
    groups = _key_groups(source, window, key, value, [])
    row = source.warehouse.fetch(
        sa.select(*_totals(groups, value)).select_from(groups),
        f"profile {source.mapping.table} {window.name}: keys",
        (source.scan(window),),
    )[0]
    return _counts(source, window, key, row)


def count_keys_by_day(
    source: TableSource, window: TimeWindow, key: dict[str, str], value: ColumnElement[Any] | None = None
) -> list[KeyCounts]:
    """Rows, distinct keys and conflicting keys of `source` in each day span of `window` (`day_spans`), in one
    query; a key that holds the timestamp never spans two days, so the days' counts add up to the window's."""
    window = source.window_of("timestamp", window)
    groups = _key_groups(source, window, key, value, [day_of(source.column("timestamp")).label("day")])
    rows = source.warehouse.fetch(
        sa.select(groups.c.day, *_totals(groups, value)).group_by(groups.c.day),
        f"profile {source.mapping.table} {window.name}: keys by day",
        (source.scan(window),),
    )
    by_day = {day_key(row.day): row for row in rows}
    return [
        _counts(source, span, key, by_day.get(span.start.date().isoformat())) for span in day_spans(window)
    ]


def merge_key_days(window: TimeWindow, parts: list[KeyCounts]) -> KeyCounts:
    """The key counts of `window` from those of its days (keys that hold the timestamp)."""
    return replace(
        parts[0],
        window=window,
        rows=sum(part.rows for part in parts),
        keys=sum(part.keys for part in parts),
        conflicting_keys=sum(part.conflicting_keys for part in parts),
    )


def _key_groups(
    source: TableSource,
    window: TimeWindow,
    key: dict[str, str],
    value: ColumnElement[Any] | None,
    by: list[ColumnElement[Any]],
) -> sa.Subquery:
    """One row per key (and per `by` column) of the rows in `window` with no NULL key column: its rows, and the
    lowest and highest `value`."""
    columns = [source.named(column, field) for field, column in key.items()]
    measures: list[ColumnElement[Any]] = [sa.func.count().label("n")]
    if value is not None:
        measures += [sa.func.min(value).label("low"), sa.func.max(value).label("high")]
    return (
        sa.select(*by, *columns, *measures)
        .select_from(source.clause)
        .where(*source.in_window("timestamp", window), *[column.is_not(None) for column in columns])
        .group_by(*by, *columns)
        .subquery("key_groups")
    )


def _totals(groups: sa.Subquery, value: ColumnElement[Any] | None) -> list[ColumnElement[Any]]:
    """SQL: the rows, keys and conflicting keys of the key `groups`."""
    conflicting = (
        sa.func.sum(sa.case((groups.c.low < groups.c.high, 1), else_=0))
        if value is not None
        else sa.literal(0)
    )
    return [
        sa.func.coalesce(sa.func.sum(groups.c.n), 0).label("rows"),
        sa.func.count().label("keys"),
        sa.func.coalesce(conflicting, 0).label("conflicting"),
    ]


def _counts(source: TableSource, window: TimeWindow, key: dict[str, str], row: Any) -> KeyCounts:
    """The counts of one result `row` (None: no keyed row) over `window`."""
    return KeyCounts(
        table=source.info.qualified_name,
        window=window,
        key=tuple(key.values()),
        rows=int(row.rows) if row is not None else 0,
        keys=int(row.keys) if row is not None else 0,
        conflicting_keys=int(row.conflicting) if row is not None else 0,
    )
