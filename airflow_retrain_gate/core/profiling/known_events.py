"""Known events (campaigns, launches, incidents) that overlap a window, read from the policy's events table."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from airflow_retrain_gate.core.policy import EventsTable
from airflow_retrain_gate.core.profiling.profiles import EventRecord
from airflow_retrain_gate.core.profiling.table_source import TableSource
from airflow_retrain_gate.core.timeframes import TimeWindow, to_utc

MAX_EVENTS = 200


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
