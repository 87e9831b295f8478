"""Which known events (campaigns, launches, incidents) overlap which days."""

from __future__ import annotations

from collections.abc import Sequence

from airflow_retrain_gate.core.profiling.profiles import EventRecord


def events_on(days: Sequence[str], events: Sequence[EventRecord]) -> list[EventRecord]:
    """The events that overlap any of `days` (ISO dates)."""
    return [event for event in events if any(event.covers_day(day) for day in days)]


def explained_days(days: Sequence[str], events: Sequence[EventRecord]) -> list[str]:
    """The subset of `days` that some event overlaps."""
    return [day for day in days if any(event.covers_day(day) for event in events)]


def fully_explained(days: Sequence[str], events: Sequence[EventRecord]) -> bool:
    """True when there are days and every one of them is covered by an event."""
    return bool(days) and len(explained_days(days, events)) == len(days)


def describe_events(events: Sequence[EventRecord]) -> str:
    """Events named for a message: "campaign 'Spring promo' (2024-05-01 to 2024-05-03)", joined."""
    return "; ".join(event.label() for event in events)
