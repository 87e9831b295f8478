"""Small profiles: per-day counters (overrides, training signals), known events, the latest timestamp."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.sql.expression import ColumnElement

from airflow_retrain_gate.core.feature_profiler import day_key
from airflow_retrain_gate.core.policy import EventsTable, OverridesTable, TrainingSignalsTable
from airflow_retrain_gate.core.profiling.profiles import DailyCounts, EventRecord
from airflow_retrain_gate.core.sources import TableSource
from airflow_retrain_gate.core.sql import day_of
from airflow_retrain_gate.core.timeframes import TimeWindow, to_utc

MAX_EVENTS = 200
FRESHNESS_SPAN = "freshness lookback"
"""What the latest-timestamp query reads: the table from the earliest window's start to as_of."""


def _count_when(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return sa.func.sum(sa.case((condition, 1), else_=0))


def _daily_counts(
    source: TableSource, window: TimeWindow, counters: dict[str, ColumnElement[Any]]
) -> DailyCounts:
    window = source.window_of("timestamp", window)
    timestamp = source.column("timestamp")
    day = day_of(timestamp)
    query = (
        sa.select(
            day.label("day"),
            sa.func.count().label("rows"),
            *[value.label(name) for name, value in counters.items()],
        )
        .select_from(source.clause)
        .where(*source.in_window("timestamp", window))
        .group_by(day)
    )
    rows = source.warehouse.fetch(
        query, f"profile {source.mapping.table} {window.name}: daily counts", (source.scan(window),)
    )
    days = [day.isoformat() for day in window.days()]
    index = {day: position for position, day in enumerate(days)}
    totals = {name: np.zeros(len(days), dtype=np.int64) for name in ("rows", *counters)}
    for row in rows:
        position = index.get(day_key(row.day))
        if position is None:
            continue
        for name in totals:
            totals[name][position] = int(getattr(row, name) or 0)
    return DailyCounts(
        table=source.info.qualified_name,
        window=window,
        days=tuple(days),
        rows=tuple(int(value) for value in totals.pop("rows")),
        counters={name: tuple(int(value) for value in values) for name, values in totals.items()},
    )


def profile_overrides(source: TableSource, window: TimeWindow) -> DailyCounts:
    """Rows and manual overrides per day."""
    mapping: OverridesTable = source.mapping  # type: ignore[assignment]
    flag = source.number("flag", mapping.flag)
    return _daily_counts(
        source, window, {"flag_known": sa.func.count(flag), "flagged": _count_when(flag != 0)}
    )


def profile_training_signals(source: TableSource, window: TimeWindow) -> DailyCounts:
    """Rows per day, with inactive users, experiment-arm rows and incomplete feedback counted."""
    mapping: TrainingSignalsTable = source.mapping  # type: ignore[assignment]
    counters: dict[str, ColumnElement[Any]] = {}
    if mapping.active:
        active = source.number("active", mapping.active)
        counters.update(active_known=sa.func.count(active), inactive=_count_when(active == 0))
    if mapping.experiment_arm:
        arm = source.column("experiment_arm")
        in_experiment = arm.is_not(None) & (sa.cast(arm, sa.String) != mapping.control_arm)
        counters.update(arm_known=sa.func.count(arm), experiment=_count_when(in_experiment))
    if mapping.feedback_complete:
        complete = source.number("feedback_complete", mapping.feedback_complete)
        counters.update(feedback_known=sa.func.count(complete), incomplete=_count_when(complete == 0))
    return _daily_counts(source, window, counters)


def load_events(source: TableSource, window: TimeWindow) -> tuple[EventRecord, ...]:
    """Known events overlapping `window` (at most MAX_EVENTS, earliest first)."""
    mapping: EventsTable = source.mapping  # type: ignore[assignment]
    starts = source.column("starts_at")
    columns = [starts.label("starts_at")]
    where = [starts < source.instant("starts_at", window.end), *source.filters()]
    if mapping.ends_at:
        ends = source.column("ends_at")
        columns.append(ends.label("ends_at"))
        where.append(sa.or_(ends.is_(None), ends > source.instant("ends_at", window.start)))
    else:
        where.append(starts >= source.instant("starts_at", window.start - timedelta(days=1)))
    for field in ("kind", "description"):
        if getattr(mapping, field):
            columns.append(sa.cast(source.column(field), sa.String).label(field))
    query = sa.select(*columns).select_from(source.clause).where(*where).order_by(starts).limit(MAX_EVENTS)
    rows = source.warehouse.fetch(query, f"events {mapping.table} {window.name}", (source.scan(window),))
    events = []
    for row in rows:
        values = row._mapping
        starts_at = to_utc(values["starts_at"])
        ends_at = values.get("ends_at")
        if ends_at is None and not mapping.ends_at:
            ends_at = starts_at + timedelta(days=1)
        events.append(
            EventRecord(
                starts_at=starts_at,
                ends_at=None if ends_at is None else to_utc(ends_at),
                kind=values.get("kind"),
                description=values.get("description"),
            )
        )
    return tuple(events)


def latest_timestamp(source: TableSource, as_of: datetime, lookback: timedelta) -> datetime | None:
    """The newest timestamp at or before `as_of`, looking back at most `lookback` (None if no rows)."""
    timestamp = source.column("timestamp")
    where = [
        timestamp >= source.instant("timestamp", as_of - lookback),
        timestamp <= source.instant("timestamp", as_of),
        *source.filters(),
    ]
    rows = source.warehouse.fetch(
        sa.select(sa.func.max(timestamp).label("latest")).select_from(source.clause).where(*where),
        f"freshness {source.mapping.table}",
        (source.scan(FRESHNESS_SPAN),),
    )
    latest = rows[0].latest if rows else None
    return None if latest is None else source.end_of("timestamp", latest)
