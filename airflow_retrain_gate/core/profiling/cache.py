"""Reference profiles cached in the state database: a past window does not change, so it is scanned once."""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from airflow_retrain_gate.core.profiling.kinds import ProfileKind
from airflow_retrain_gate.core.profiling.profiles import from_jsonable, to_jsonable
from airflow_retrain_gate.core.scans import Scan
from airflow_retrain_gate.core.state import StateStore
from airflow_retrain_gate.core.timeframes import TimeWindow
from airflow_retrain_gate.core.warehouse import short_error

log = logging.getLogger("airflow_retrain_gate")

QUERY_VERSION = 3
"""Bump when profile queries or their meaning change: older cache entries are then ignored."""


def cache_key(kind: ProfileKind, identity: dict[str, Any], window: TimeWindow) -> str:
    """A stable key from the profile kind, the mapping and settings that shape it, and the window."""
    payload = {
        "kind": kind,
        "identity": identity,
        "window": [window.start.isoformat(), window.end.isoformat()],
        "query_version": QUERY_VERSION,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


class ProfileCache:
    """Get and put reference profiles by key; a concurrent duplicate put is harmless."""

    def __init__(self, state: StateStore) -> None:
        self.state = state
        self.hits = 0
        self.misses = 0
        self.answered: list[Scan] = []
        """The table windows whose reads cached profiles spared, one entry per profile."""

    def get(self, key: str, answers: tuple[Scan, ...] = ()) -> Any | None:
        """The cached profile, or None (also when the cache cannot be read: it only saves work); on a hit, the
        reads the profile `answers` for are noted in `answered`."""
        table = self.state.tables["cache"]
        try:
            with self.state.reading() as connection:
                text = connection.execute(
                    sa.select(table.c.profile_json).where(
                        table.c.cache_key == key, table.c.query_version == QUERY_VERSION
                    )
                ).scalar()
        except sa.exc.SQLAlchemyError as error:
            log.warning("reference-profile cache unreadable, profiling afresh: %s", short_error(error))
            text = None
        if text is None:
            self.misses += 1
            return None
        self.hits += 1
        self.answered.extend(answers)
        return from_jsonable(json.loads(text))

    def put(self, key: str, kind: ProfileKind, table_name: str, window: TimeWindow, profile: Any) -> None:
        """Store a profile once; if another gate stored the same key first, keep theirs."""
        table = self.state.tables["cache"]
        row = {
            "cache_key": key,
            "kind": str(kind),
            "table_name": table_name,
            "window_start": window.start,
            "window_end": window.end,
            "query_version": QUERY_VERSION,
            "created_at": datetime.now(UTC),
            "profile_json": json.dumps(to_jsonable(profile)),
        }
        try:
            with self.state.writing() as connection:
                exists = connection.execute(
                    sa.select(table.c.cache_key).where(table.c.cache_key == key)
                ).first()
                if exists is None:
                    connection.execute(table.insert().values(**row))
        except sa.exc.IntegrityError:
            pass  # a concurrent gate cached the same window first; both computed the same aggregates
        except sa.exc.SQLAlchemyError as error:
            log.warning("reference profile not cached: %s", short_error(error))
