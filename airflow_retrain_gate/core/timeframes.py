"""Durations ("7d", "-63d", "12h") and windows resolved against an `as_of` instant."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TypeVar

_DURATION = re.compile(r"^\s*([+-]?)\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_NUMBER = re.compile(r"^\s*[+-]?\s*\d+(?:\.\d+)?\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}

Item = TypeVar("Item")


def is_bare_number(value: object) -> bool:
    """Whether `value` is a number without a unit (``7``, ``-7``, ``"1.5"``), which no duration may be."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int | float) or (isinstance(value, str) and bool(_NUMBER.match(value)))


def parse_duration(text: object) -> timedelta:
    """Parse a signed duration such as ``"-63d"``, ``"12h"`` or ``"1.5w"`` (units s, m, h, d, w).

    A bare number is refused: whether ``7`` means seconds or days is a guess the gate does not make.
    """
    if isinstance(text, timedelta):
        return text
    if is_bare_number(text):
        raise ValueError(f"{text!r} has no unit; write it like '7d', '-63d' or '12h' (units s, m, h, d, w)")
    if not isinstance(text, str):
        raise ValueError(f"{text!r} is not a duration; write it like '7d', '-63d' or '12h'")
    match = _DURATION.match(text)
    if not match:
        raise ValueError(
            f"{text!r} is not a duration; write it like '7d', '-63d' or '12h' (units s, m, h, d, w)"
        )
    sign, amount, unit = match.groups()
    seconds = float(amount) * _UNIT_SECONDS[unit]
    try:
        return timedelta(seconds=-seconds if sign == "-" else seconds)
    except OverflowError:
        raise ValueError(f"{text!r} is too long a duration") from None


def format_duration(value: timedelta) -> str:
    """Render a duration the way people read it: ``2d 3h``, ``45m``, ``-7d``."""
    seconds = int(round(value.total_seconds()))
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return sign + (" ".join(parts[:2]) if parts else "0s")


def to_utc(value: datetime | date | str) -> datetime:
    """Return a plain, aware UTC datetime; naive inputs are taken to be UTC already.

    Subclasses such as pendulum's DateTime (what Airflow hands out) become plain datetimes, whose
    arithmetic keeps the UTC offset.
    """
    if isinstance(value, str):
        text = value.strip().replace("Z", "+00:00")
        try:
            value = datetime.fromisoformat(text)
        except ValueError as error:
            raise ValueError(f"{value!r} is not an ISO-8601 date or timestamp") from error
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return datetime(
        value.year,
        value.month,
        value.day,
        value.hour,
        value.minute,
        value.second,
        value.microsecond,
        tzinfo=UTC,
    )


def midnight(value: datetime | date) -> datetime:
    """The UTC midnight that starts the day of `value`."""
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


def resolve_instant(bound: str | datetime | date, as_of: datetime) -> datetime:
    """Resolve a window bound: a relative duration (``-7d``, ``0d``) or an absolute ISO date/timestamp."""
    if isinstance(bound, datetime | date):
        return to_utc(bound)
    try:
        return as_of + parse_duration(bound)
    except ValueError:
        return to_utc(bound)


@dataclass(frozen=True)
class TimeWindow:
    """A half-open time range ``[start, end)`` in UTC."""

    name: str
    start: datetime
    end: datetime

    @property
    def length(self) -> timedelta:
        """The window's duration."""
        return self.end - self.start

    def earlier(self, by: timedelta) -> TimeWindow:
        """The same window moved back by `by`."""
        return TimeWindow(self.name, self.start - by, self.end - by)

    def clipped_to(self, other: TimeWindow) -> TimeWindow | None:
        """The part of this window inside `other` (keeping this one's name), or None when they do not meet."""
        start, end = max(self.start, other.start), min(self.end, other.end)
        return TimeWindow(self.name, start, end) if start < end else None

    def whole_days(self) -> TimeWindow:
        """The UTC days whose last instant lies inside this window, as a window from midnight to midnight: what a
        DATE column selects, since a date stands for its whole day (the days of adjacent windows never overlap)."""
        return TimeWindow(self.name, midnight(self.start), midnight(self.end))

    def days(self) -> list[date]:
        """The UTC calendar days the window touches, in order."""
        first, last = self.start.date(), (self.end - timedelta(microseconds=1)).date()
        return [first + timedelta(days=offset) for offset in range((last - first).days + 1)]

    def day_coverage(self, day: date) -> float:
        """The share (0..1) of the UTC day ``day`` that lies inside the window."""
        day_start = midnight(day)
        day_end = day_start + timedelta(days=1)
        overlap = min(day_end, self.end) - max(day_start, self.start)
        return max(overlap.total_seconds(), 0.0) / 86400.0

    def split(self, parts: int) -> list[TimeWindow]:
        """At most `parts` consecutive windows covering this one, cut at UTC midnights."""
        days = self.days()
        size = max(-(-len(days) // max(parts, 1)), 1)
        cuts = [self.start]
        for index in range(size, len(days), size):
            day = days[index]
            cuts.append(midnight(day))
        cuts.append(self.end)
        return [TimeWindow(self.name, start, end) for start, end in zip(cuts, cuts[1:], strict=False)]

    def to_dict(self) -> dict[str, str]:
        """JSON form: ISO timestamps."""
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}


def touching_runs(ordered: Iterable[Item], span_of: Callable[[Item], TimeWindow]) -> list[list[Item]]:
    """Items in time order, grouped into runs whose spans (`span_of`) touch end to start."""
    runs: list[list[Item]] = []
    for item in ordered:
        if runs and span_of(runs[-1][-1]).end == span_of(item).start:
            runs[-1].append(item)
        else:
            runs.append([item])
    return runs
