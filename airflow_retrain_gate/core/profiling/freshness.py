"""The newest timestamp of a table at or before as_of: what the freshness check and sensor judge."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.expression import ColumnElement

from airflow_retrain_gate.core.profiling.table_source import TableSource
from airflow_retrain_gate.core.timeframes import to_utc

FRESHNESS_SPAN = "freshness lookback"
"""What the latest-timestamp query reads: the table from the earliest window's start to as_of."""
AFTER_AS_OF_SPAN = "after as_of"
"""What the earliest-timestamp-after query reads: the table's rows dated after as_of."""


def latest_timestamp(source: TableSource, as_of: datetime, lookback: timedelta) -> datetime | None:
    """The newest timestamp at or before `as_of`, looking back at most `lookback` (None if no rows)."""
    timestamp = source.column("timestamp")
    latest = _timestamp_bound(
        source,
        sa.func.max(timestamp),
        [
            timestamp >= source.instant("timestamp", as_of - lookback),
            timestamp <= source.instant("timestamp", as_of),
        ],
        f"freshness {source.mapping.table}",
        FRESHNESS_SPAN,
    )
    return None if latest is None else source.end_of("timestamp", latest)


def earliest_timestamp_after(source: TableSource, as_of: datetime) -> datetime | None:
    """The oldest timestamp after `as_of` (None if no row is dated later): asked only when no row reaches back
    to the windows, to tell a table that stopped from one whose rows are all dated later."""
    timestamp = source.column("timestamp")
    earliest = _timestamp_bound(
        source,
        sa.func.min(timestamp),
        [timestamp > source.instant("timestamp", as_of)],
        f"first row after as_of {source.mapping.table}",
        AFTER_AS_OF_SPAN,
    )
    return None if earliest is None else to_utc(earliest)


def _timestamp_bound(
    source: TableSource, bound: ColumnElement[Any], where: list[ColumnElement[bool]], purpose: str, span: str
) -> Any:
    """One aggregate of the timestamp (`bound`) over the rows `where` selects and the mapping's filters keep."""
    rows = source.warehouse.fetch(
        sa.select(bound.label("bound")).select_from(source.clause).where(*where, *source.filters()),
        purpose,
        (source.scan(span),),
    )
    return rows[0].bound if rows else None
