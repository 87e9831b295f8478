"""Profiles cached in the state database: a past window or day does not change (unless verified otherwise), so
it is scanned once."""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from airflow_retrain_gate.core.profiling.decoded_entries import DECODED
from airflow_retrain_gate.core.profiling.kinds import ProfileKind
from airflow_retrain_gate.core.profiling.profiles import to_jsonable
from airflow_retrain_gate.core.scans import Scan
from airflow_retrain_gate.core.state import StateStore
from airflow_retrain_gate.core.timeframes import TimeWindow
from airflow_retrain_gate.core.warehouse import short_error

log = logging.getLogger("airflow_retrain_gate")

QUERY_VERSION = 5
"""Bump when profile queries or their meaning change: older cache entries are then ignored."""


def short_digest(data: Any) -> str:
    """A short stable hash of JSON-ready `data` (bins, a label domain): names the day parts counted on them."""
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def cache_key(kind: ProfileKind, identity: dict[str, Any], window: TimeWindow | None) -> str:
    """A stable key from the profile kind, the mapping and settings that shape it, and the window (None for an
    entry of no window, such as a baseline)."""
    payload = {
        "kind": kind,
        "identity": identity,
        "window": None if window is None else [window.start.isoformat(), window.end.isoformat()],
        "query_version": QUERY_VERSION,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


class ProfileCache:
    """Get and put profiles by key, and tally this run's use of the cache; a concurrent duplicate put is
    harmless."""

    def __init__(self, state: StateStore) -> None:
        self.state = state
        self.hits = 0
        self.misses = 0
        self.answered: list[Scan] = []
        """The table windows whose reads cached profiles spared, one entry per profile."""
        self.parts_cached = 0
        self.parts_computed = 0
        """Day parts (`incremental.py`) merged from the cache and computed in this run."""
        self.joined_parts: dict[str, dict[str, int]] = {}
        """Kind -> day parts of the joined outcomes (`outcome_parts.py`, `residual_parts.py`) merged from the
        cache and computed in this run."""
        self.recomputed_days: dict[str, list[str]] = {}
        """Table -> days whose cached part was stale (rows arrived or changed since) and were computed again."""

    def tally_joined_parts(self, kind: ProfileKind, cached: int, computed: int) -> None:
        """Count day parts of the joined outcomes of `kind`, merged from the cache and computed."""
        tally = self.joined_parts.setdefault(str(kind), {"cached": 0, "computed": 0})
        tally["cached"] += cached
        tally["computed"] += computed

    def note_recomputed(self, table: str, day: str) -> None:
        """Name `day` of `table` among the days whose cached part was stale and computed again."""
        days = self.recomputed_days.setdefault(table, [])
        if day not in days:
            days.append(day)

    def get(self, key: str, answers: tuple[Scan, ...] = ()) -> Any | None:
        """The cached profile, or None (also when the cache cannot be read: it only saves work); on a hit, the
        reads the profile `answers` for are noted in `answered`."""
        found = self.get_many([key]).get(key)
        if found is None:
            self.misses += 1
            return None
        self.hits += 1
        self.answered.extend(answers)
        return found

    def get_many(self, keys: list[str]) -> dict[str, Any]:
        """The cached entries among `keys` (by key), in one read; an unreadable cache or entry is a warning and
        a miss, never a failure."""
        return decode_entries(self.stored(keys))

    def stored(self, keys: list[str]) -> dict[str, str]:
        """The stored text of the entries among `keys` (by key), in one read, undecoded; an unreadable cache is
        a warning and finds nothing."""
        table = self.state.tables["cache"]
        try:
            with self.state.reading() as connection:
                rows = connection.execute(
                    sa.select(table.c.cache_key, table.c.profile_json).where(
                        table.c.cache_key.in_(keys), table.c.query_version == QUERY_VERSION
                    )
                ).all()
        except sa.exc.SQLAlchemyError as error:
            log.warning("profile cache unreadable, profiling afresh: %s", short_error(error))
            return {}
        return dict(rows)

    def put(self, key: str, kind: ProfileKind, table_name: str, window: TimeWindow, profile: Any) -> None:
        """Store a profile under `key`, replacing what was stored there."""
        self.put_many(kind, table_name, [(key, window, profile)])

    def put_many(
        self, kind: ProfileKind, table_name: str, entries: list[tuple[str, TimeWindow, Any]]
    ) -> None:
        """Store (key, window, profile) entries of one table in one transaction, replacing what was stored under
        their keys (a stale day part, an unreadable entry); if a concurrent gate stores the same keys first,
        theirs are kept: both computed the same aggregates."""
        table = self.state.tables["cache"]
        created_at = datetime.now(UTC)
        rows = {
            key: {
                "cache_key": key,
                "kind": str(kind),
                "table_name": table_name,
                "window_start": window.start,
                "window_end": window.end,
                "query_version": QUERY_VERSION,
                "created_at": created_at,
                "profile_json": json.dumps(to_jsonable(profile)),
            }
            for key, window, profile in entries
        }
        try:
            with self.state.writing() as connection:
                connection.execute(table.delete().where(table.c.cache_key.in_(list(rows))))
                connection.execute(table.insert(), list(rows.values()))
        except sa.exc.IntegrityError:
            pass  # a concurrent gate cached the same entries first
        except sa.exc.SQLAlchemyError as error:
            log.warning("profile not cached: %s", short_error(error))


def decode_entries(texts: dict[str, str]) -> dict[str, Any]:
    """The profiles stored as `texts` (by key); an unreadable entry is a warning and left out (a miss)."""
    found = {}
    for key, text in texts.items():
        try:
            found[key] = DECODED.decode(text)
        except (ValueError, TypeError, KeyError) as error:
            log.warning("cached profile %s unreadable, profiling afresh: %s", key[:12], error)
    return found
