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
    columns = [source.named(column, field) for field, column in key.items()]
    measures: list[ColumnElement[Any]] = [sa.func.count().label("n")]
    if value is not None:
        measures += [sa.func.min(value).label("low"), sa.func.max(value).label("high")]
    groups = (
        sa.select(*columns, *measures)
        .select_from(source.clause)
        .where(*source.in_window("timestamp", window), *[column.is_not(None) for column in columns])
        .group_by(*columns)
        .subquery("key_groups")
    )
    conflicting = (
        sa.func.sum(sa.case((groups.c.low < groups.c.high, 1), else_=0))
        if value is not None
        else sa.literal(0)
    )
    query = sa.select(
        sa.func.coalesce(sa.func.sum(groups.c.n), 0).label("rows"),
        sa.func.count().label("keys"),
        sa.func.coalesce(conflicting, 0).label("conflicting"),
    ).select_from(groups)
    row = source.warehouse.fetch(
        query, f"profile {source.mapping.table} {window.name}: keys", (source.scan(window),)
    )[0]
    return KeyCounts(
        table=source.info.qualified_name,
        window=window,
        key=tuple(key.values()),
        rows=int(row.rows),
        keys=int(row.keys),
        conflicting_keys=int(row.conflicting),
    )


def count_keys_by_day(
    source: TableSource, window: TimeWindow, key: dict[str, str], value: ColumnElement[Any] | None = None
) -> list[KeyCounts]:
    """Rows, distinct keys and conflicting keys of `source` in each day span of `window` (`day_spans`), in one
    query; a key that holds the timestamp never spans two days, so the days' counts add up to the window's."""
    window = source.window_of("timestamp", window)
    day = day_of(source.column("timestamp")).label("day")
    columns = [source.named(column, field) for field, column in key.items()]
    measures: list[ColumnElement[Any]] = [sa.func.count().label("n")]
    if value is not None:
        measures += [sa.func.min(value).label("low"), sa.func.max(value).label("high")]
    groups = (
        sa.select(day, *columns, *measures)
        .select_from(source.clause)
        .where(*source.in_window("timestamp", window), *[column.is_not(None) for column in columns])
        .group_by(day, *columns)
        .subquery("key_groups")
    )
    conflicting = (
        sa.func.sum(sa.case((groups.c.low < groups.c.high, 1), else_=0))
        if value is not None
        else sa.literal(0)
    )
    query = sa.select(
        groups.c.day,
        sa.func.sum(groups.c.n).label("rows"),
        sa.func.count().label("keys"),
        sa.func.coalesce(conflicting, 0).label("conflicting"),
    ).group_by(groups.c.day)
    rows = source.warehouse.fetch(
        query, f"profile {source.mapping.table} {window.name}: keys by day", (source.scan(window),)
    )
    by_day = {day_key(row.day): row for row in rows}
    counts = []
    for span in day_spans(window):
        row = by_day.get(span.start.date().isoformat())
        counts.append(
            KeyCounts(
                table=source.info.qualified_name,
                window=span,
                key=tuple(key.values()),
                rows=int(row.rows) if row is not None else 0,
                keys=int(row.keys) if row is not None else 0,
                conflicting_keys=int(row.conflicting) if row is not None else 0,
            )
        )
    return counts


def merge_key_days(window: TimeWindow, parts: list[KeyCounts]) -> KeyCounts:
    """The key counts of `window` from those of its days (keys that hold the timestamp)."""
    return replace(
        parts[0],
        window=window,
        rows=sum(part.rows for part in parts),
        keys=sum(part.keys for part in parts),
        conflicting_keys=sum(part.conflicting_keys for part in parts),
    )
