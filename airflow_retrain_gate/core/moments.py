"""Count, mean, spread and range of a column, combinable across days without revisiting rows."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Moments:
    """Moments of the non-null values of a column: count, mean, sum of squared deviations, min, max."""

    count: int = 0
    mean: float = 0.0
    m2: float = 0.0
    minimum: float | None = None
    maximum: float | None = None

    @classmethod
    def from_aggregates(
        cls,
        count: int | None,
        mean: float | None,
        variance: float | None,
        minimum: float | None,
        maximum: float | None,
    ) -> Moments:
        """Build from SQL aggregates: count, avg, var_pop, min, max (None when there were no values)."""
        if not count:
            return cls()
        variance = max(float(variance or 0.0), 0.0)
        return cls(int(count), float(mean or 0.0), variance * int(count), _opt(minimum), _opt(maximum))

    def combine(self, other: Moments) -> Moments:
        """The moments of both samples together (Chan et al.'s parallel update)."""
        if other.count == 0:
            return self
        if self.count == 0:
            return other
        count = self.count + other.count
        delta = other.mean - self.mean
        mean = self.mean + delta * other.count / count
        m2 = self.m2 + other.m2 + delta * delta * self.count * other.count / count
        return Moments(count, mean, m2, _min(self.minimum, other.minimum), _max(self.maximum, other.maximum))

    @classmethod
    def combine_all(cls, parts: Iterable[Moments]) -> Moments:
        """Combine any number of samples."""
        total = cls()
        for part in parts:
            total = total.combine(part)
        return total

    @property
    def variance(self) -> float:
        """Sample variance (n - 1 in the denominator); 0 for fewer than two values."""
        return self.m2 / (self.count - 1) if self.count > 1 else 0.0

    @property
    def std(self) -> float:
        """Sample standard deviation."""
        return math.sqrt(self.variance)

    @property
    def is_finite(self) -> bool:
        """False when NaN or infinite values reached the aggregates."""
        values = [self.mean, self.m2, self.minimum or 0.0, self.maximum or 0.0]
        return all(math.isfinite(value) for value in values)

    def to_list(self) -> list[float | int | None]:
        """Compact JSON form."""
        return [self.count, self.mean, self.m2, self.minimum, self.maximum]

    @classmethod
    def from_list(cls, values: list[float | int | None]) -> Moments:
        """Inverse of `to_list`."""
        count, mean, m2, minimum, maximum = values
        return cls(
            int(count or 0),
            float(mean if mean is not None else math.nan),
            float(m2 if m2 is not None else math.nan),
            _opt(minimum),
            _opt(maximum),
        )


def _opt(value: float | None) -> float | None:
    return None if value is None else float(value)


def _min(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else min(a, b)


def _max(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else max(a, b)
