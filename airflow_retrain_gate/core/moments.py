"""Count, mean, spread and range of a column, combinable across days without revisiting rows."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from statistics import median


@dataclass(frozen=True)
class Moments:
    """Moments of the non-null values of a column: count, mean, sum of squared deviations, min, max.

    Values beyond the safe magnitude (see `sql.SAFE_MAGNITUDE`) are counted in `extreme` and in the range,
    but left out of `count`, `mean` and `m2`, whose sums would otherwise overflow.
    """

    count: int = 0
    mean: float = 0.0
    m2: float = 0.0
    minimum: float | None = None
    maximum: float | None = None
    extreme: int = 0
    """Values too large in magnitude to enter the mean and spread (corrupt or sentinel values)."""

    @classmethod
    def from_aggregates(
        cls,
        count: int | None,
        mean: float | None,
        variance: float | None,
        minimum: float | None,
        maximum: float | None,
        extreme: int | None = 0,
    ) -> Moments:
        """Build from SQL aggregates: count, avg, var_pop (over safe values), min, max, extreme values."""
        extreme = int(extreme or 0)
        if not count:
            if not extreme:
                return cls()
            return cls(0, 0.0, 0.0, _opt(minimum), _opt(maximum), extreme)
        variance = max(float(variance or 0.0), 0.0)
        return cls(
            int(count), float(mean or 0.0), variance * int(count), _opt(minimum), _opt(maximum), extreme
        )

    def combine(self, other: Moments) -> Moments:
        """The moments of both samples together (Chan et al.'s parallel update)."""
        if other.count == 0 and not other.extreme:
            return self
        if self.count == 0 and not self.extreme:
            return other
        if other.count == 0 or self.count == 0:
            moved = other if self.count == 0 else self
            return replace(
                moved,
                minimum=_min(self.minimum, other.minimum),
                maximum=_max(self.maximum, other.maximum),
                extreme=self.extreme + other.extreme,
            )
        count = self.count + other.count
        delta = other.mean - self.mean
        mean = self.mean + delta * other.count / count
        m2 = self.m2 + other.m2 + delta * delta * self.count * other.count / count
        return Moments(
            count,
            mean,
            m2,
            _min(self.minimum, other.minimum),
            _max(self.maximum, other.maximum),
            self.extreme + other.extreme,
        )

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
    def magnitude(self) -> float:
        """The largest absolute value seen (0 without values)."""
        return max(abs(self.minimum or 0.0), abs(self.maximum or 0.0))

    def to_list(self) -> list[float | int | None]:
        """Compact JSON form."""
        return [self.count, self.mean, self.m2, self.minimum, self.maximum, self.extreme]

    @classmethod
    def from_list(cls, values: list[float | int | None]) -> Moments:
        """Inverse of `to_list`; also reads the older five-element form (no extreme count)."""
        count, mean, m2, minimum, maximum, *extreme = values
        return cls(
            int(count or 0),
            float(mean if mean is not None else math.nan),
            float(m2 if m2 is not None else math.nan),
            _opt(minimum),
            _opt(maximum),
            int(extreme[0] or 0) if extreme else 0,
        )


def _opt(value: float | None) -> float | None:
    return None if value is None else float(value)


def _min(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else min(a, b)


def _max(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else max(a, b)


def spread_wander(days: Sequence[Moments], min_count: int, span: int = 1) -> float:
    """How far (log ratio) the median spread of any `span` consecutive days of `days` strays from the median spread
    of all of them, over the days with `min_count` values or more and some spread (0 without such days, or fewer
    than `span`)."""
    spreads = [day.std for day in days if day.count >= min_count and day.std > 0]
    if not spreads:
        return 0.0
    typical = median(spreads)
    return max(
        (
            abs(math.log(median(spreads[start : start + span]) / typical))
            for start in range(len(spreads) - span + 1)
        ),
        default=0.0,
    )
