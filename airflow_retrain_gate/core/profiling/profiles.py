"""Profiles: the aggregates of one table over one window, as they came back from the warehouse.

A profile never holds rows. Histograms use fine bins over reference-derived edges:
index 0 is the underflow (below the reference range), then the fine bins, then the overflow.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

import numpy as np

from airflow_retrain_gate.core.moments import Moments
from airflow_retrain_gate.core.timeframes import TimeWindow, to_utc

OTHER = "__other__"
"""Category key of values outside the tracked (reference top-k) categories."""
MISSING = "__null__"
"""Category or segment key of NULL values."""


@dataclass(frozen=True)
class NumericProfile:
    """A numeric column over one window: moments, a histogram on reference edges, per-day slices."""

    column: str
    nulls: int
    moments: Moments
    edges: tuple[float, ...]
    counts: tuple[int, ...]
    daily_counts: tuple[tuple[int, ...], ...]
    daily_moments: tuple[Moments, ...]
    daily_nulls: tuple[int, ...]
    segment_counts: dict[str, tuple[int, ...]] = field(default_factory=dict)
    daily_segment_counts: dict[str, tuple[tuple[int, ...], ...]] = field(default_factory=dict)
    """Segment -> [day][slot]: `segment_counts` per day (empty when no segment is mapped)."""
    daily_log_magnitudes: tuple[Moments, ...] = ()
    """Per day, the count and mean of ln|x| over the non-zero values within the safe magnitude: a scale no outlier
    moves. Counted only for columns whose daily spread strays (`FeatureBinning.magnitudes`), else empty."""

    def histogram(self, days: list[int] | None = None) -> np.ndarray:
        """Bin counts over the whole window, or summed over the given day indexes."""
        if days is None:
            return np.asarray(self.counts, float)
        return (
            np.asarray([self.daily_counts[index] for index in days], float)
            .reshape(-1, len(self.counts))
            .sum(axis=0)
        )


@dataclass(frozen=True)
class CategoricalProfile:
    """A categorical column over one window: counts of the tracked categories plus 'other', per day."""

    column: str
    nulls: int
    categories: tuple[str, ...]
    """The tracked categories (the reference window's most frequent); `counts` has one more slot for OTHER."""
    counts: tuple[int, ...]
    daily_counts: tuple[tuple[int, ...], ...]
    daily_nulls: tuple[int, ...]
    top_values: tuple[tuple[str, int], ...]
    """This window's own most frequent values, to name categories the reference never saw: the sums of each
    day's most frequent values (`daily_top_values`), so that a window's are the merge of its days'."""
    segment_counts: dict[str, tuple[int, ...]] = field(default_factory=dict)
    daily_segment_counts: dict[str, tuple[tuple[int, ...], ...]] = field(default_factory=dict)
    """Segment -> [day][slot]: `segment_counts` per day (empty when no segment is mapped)."""
    daily_top_values: tuple[tuple[tuple[str, int], ...], ...] = ()
    """Each day's most frequent values with their counts."""

    def share(self, category: str) -> float:
        """Share of non-null rows in `category` (OTHER for the untracked rest)."""
        total = sum(self.counts)
        if not total:
            return 0.0
        index = len(self.categories) if category == OTHER else self.categories.index(category)
        return self.counts[index] / total


@dataclass(frozen=True)
class TableProfile:
    """Every watched column of a features table over one window, with daily row counts and segments."""

    table: str
    window: TimeWindow
    rows: int
    max_timestamp: datetime | None
    days: tuple[str, ...]
    daily_rows: tuple[int, ...]
    numeric: dict[str, NumericProfile]
    categorical: dict[str, CategoricalProfile]
    segments: tuple[str, ...] = ()
    segment_rows: tuple[int, ...] = ()
    daily_segment_rows: tuple[tuple[int, ...], ...] = ()
    column_types: dict[str, str] = field(default_factory=dict)
    min_timestamp: datetime | None = None
    """The window's earliest timestamp: equal to `max_timestamp` when every row shares one instant."""
    daily_min_timestamps: tuple[datetime | None, ...] = ()
    daily_max_timestamps: tuple[datetime | None, ...] = ()
    """Each day's earliest and latest timestamp (None on a day without rows)."""


@dataclass(frozen=True)
class OutcomeProfile:
    """Predictions joined to outcomes known by as_of, aggregated per day x score bin and per band."""

    window: TimeWindow
    predictions: int
    matured: int
    label_kind: str
    """``binary`` (labels are 0/1) or ``numeric``."""
    score_edges: tuple[float, ...]
    days: tuple[str, ...]
    daily_bins: dict[str, tuple[tuple[float, ...], ...]]
    """Metric -> [day][score bin]; metrics are OUTCOME_METRICS."""
    bands: tuple[str, ...] = ()
    band_bins: dict[str, tuple[tuple[float, ...], ...]] = field(default_factory=dict)
    """Metric -> [band][score bin], bands aligned with `bands`."""
    unscored: int = 0
    """Predictions of the window without a usable score (NULL, NaN or infinite), left out of every bin."""
    label_classes: tuple[float, ...] = ()
    """The reference's label values when they form a class set (0/1, or two codes such as -1/1); else empty."""
    whole_labels: bool = False
    """Whether every reference label was a whole number (then a fractional label is outside the domain)."""
    stray_labels: tuple[tuple[float, int], ...] = ()
    """The most frequent matured labels outside the reference's domain, with their counts (empty when none)."""
    domain_until: str | None = None
    """The reference day from which its labels left the domain of its earlier days for good (the domain is
    theirs); None when the whole reference kept one domain."""

    def totals(self, metric: str) -> float:
        """A metric summed over the whole window."""
        values = self.daily_bins.get(metric)
        return float(np.asarray(values, float).sum()) if values else 0.0

    def by_bin(self, metric: str, days: list[int] | None = None) -> np.ndarray:
        """A metric per score bin, summed over all days or over the given day indexes."""
        values = self.daily_bins.get(metric)
        if not values:
            return np.zeros(len(self.score_edges) + 1)
        array = np.asarray(values, float)
        return (array if days is None else array[days]).sum(axis=0)

    def band_by_bin(self, metric: str, band: str) -> np.ndarray:
        """A metric per score bin within one predicted band."""
        values = self.band_bins.get(metric)
        if not values or band not in self.bands:
            return np.zeros(len(self.score_edges) + 1)
        return np.asarray(values[self.bands.index(band)], float)

    def halves(self) -> tuple[list[int], list[int]]:
        """Day indexes of the first and second half of the window's days that have matured labels."""
        matured = self.by_day("matured")
        with_labels = [index for index, count in enumerate(matured) if count > 0]
        middle = len(with_labels) // 2
        return with_labels[:middle], with_labels[middle:]

    def label_moments(self) -> Moments:
        """Count, mean and spread of the window's matured labels, from their sums."""
        count = self.totals("matured")
        if not count:
            return Moments()
        mean = self.totals("label_sum") / count
        m2 = max(self.totals("label_sq") - count * mean * mean, 0.0)
        return Moments(int(count), mean, m2)

    def by_day(self, metric: str) -> np.ndarray:
        """A metric per day, summed over score bins."""
        values = self.daily_bins.get(metric)
        if not values:
            return np.zeros(len(self.days))
        return np.asarray(values, float).sum(axis=1)


OUTCOME_METRICS = (
    "n",
    "matured",
    "label_sum",
    "label_sq",
    "score_sum",
    "error_sq",
    "error_sq_sq",
    "proxy_n",
    "proxy_sum",
    "engagement_n",
    "engagement_sum",
    "engagement_sq",
    "label_stray",
    "label_early",
)
"""Aggregates per day x score bin. ``label_stray`` counts matured labels outside the reference's domain
(its class set, or whole numbers); ``label_early`` counts labels known before their prediction."""


@dataclass(frozen=True)
class OutcomeDayPart:
    """One prediction day's outcome profile, with what it was counted from: the day's prediction rows and latest
    timestamp then, and the labels known by `labels_as_of` (`outcome_parts.py` verifies them)."""

    profile: OutcomeProfile
    predicted: int
    latest_prediction: datetime | None
    labels_as_of: datetime
    label_days: dict[str, tuple[int, datetime | None]]
    """Label day (ISO) -> labels of the whole outcomes table dated that day (up to `labels_as_of`) and their
    latest timestamp, for each day from the prediction day to that of `labels_as_of`."""


@dataclass(frozen=True)
class OutcomeLabelStamp:
    """What a run found of the labels when it verified or computed the outcome day parts of `parts` (their cache
    keys): each held the labels known by `labels_as_of`, the outcomes table then holding `label_days`."""

    labels_as_of: datetime
    label_days: dict[str, tuple[int, datetime | None]]
    parts: tuple[str, ...]


@dataclass(frozen=True)
class MulticlassProfile:
    """A multiclass model's predictions joined to labels known by as_of: per class, matured labels and those of
    that class per day x bin of the class's score (one vs rest); per day, the aggregates of MULTICLASS_METRICS."""

    window: TimeWindow
    classes: tuple[str, ...]
    score_edges: tuple[float, ...]
    """Bins of a class's score over [0, 1]; slot 0 also holds rows predicted as another class (predicted_class form)."""
    days: tuple[str, ...]
    matured: tuple[tuple[tuple[float, ...], ...], ...]
    """[class][day][score bin of that class]: matured labels within the classes."""
    positives: tuple[tuple[tuple[float, ...], ...], ...]
    """[class][day][score bin of that class]: matured labels of that class."""
    daily: dict[str, tuple[float, ...]]
    """Metric of MULTICLASS_METRICS -> value per day."""
    has_log_loss: bool = False
    """Whether the profile holds log loss (a score per class is mapped)."""
    stray_labels: tuple[tuple[str, int], ...] = ()
    """The most frequent matured labels outside the classes, with their counts (empty when none)."""

    def total(self, metric: str) -> float:
        """A metric of MULTICLASS_METRICS summed over the window."""
        return float(sum(self.daily.get(metric, ())))

    def one_vs_rest(self, class_index: int) -> OutcomeProfile:
        """Class `class_index` against the others as a 0/1 outcome profile over that class's score."""
        matured = self.matured[class_index]
        positives = self.positives[class_index]
        return OutcomeProfile(
            window=self.window,
            predictions=int(self.total("n")),
            matured=int(np.asarray(matured, float).sum()),
            label_kind="binary",
            score_edges=self.score_edges,
            days=self.days,
            daily_bins={"n": matured, "matured": matured, "label_sum": positives, "label_sq": positives},
            label_classes=(0.0, 1.0),
            whole_labels=True,
        )


MULTICLASS_METRICS = ("n", "matured", "in_classes", "correct", "log_loss", "stray")
"""Per day: predictions, matured labels, matured labels within the classes, those the predicted class got
right, the sum of -ln(score of the true class) (clipped), and matured labels outside the classes."""


RESIDUAL_METRICS = ("n", "residual_sum", "residual_sq")
"""Aggregates per day x feature bin: matured predictions, and sums of their residuals (label - score) and squares."""


@dataclass(frozen=True)
class FeatureResiduals:
    """The residuals (label - score) of matured predictions per day x reference bin of one feature.

    A numeric feature's slots are its reference histogram's (underflow, fine bins, overflow); a categorical
    feature's are its tracked categories, then OTHER and MISSING."""

    column: str
    edges: tuple[float, ...]
    """The reference's bin edges of a numeric feature; empty for a categorical one."""
    categories: tuple[str, ...]
    """The slots of a categorical feature; empty for a numeric one."""
    daily: dict[str, tuple[tuple[float, ...], ...]]
    """Metric of RESIDUAL_METRICS -> [day][slot]."""

    def by_slot(self, metric: str, days: list[int] | None = None) -> np.ndarray:
        """A metric per slot, summed over all days or over the given day indexes."""
        array = np.asarray(self.daily[metric], float)
        return (array if days is None else array[days]).sum(axis=0)


@dataclass(frozen=True)
class ResidualProfile:
    """Matured predictions joined to the features they were scored on, their residuals by bin of each feature."""

    window: TimeWindow
    days: tuple[str, ...]
    features: dict[str, FeatureResiduals]
    daily_rows: tuple[int, ...]
    """Matured predictions with a score that joined a features row, per day."""

    @property
    def rows(self) -> int:
        """Matured predictions with a score that joined a features row."""
        return sum(self.daily_rows)

    def halves(self) -> tuple[list[int], list[int]]:
        """Day indexes of the first and second half of the window's days that have joined matured predictions."""
        with_rows = [index for index, count in enumerate(self.daily_rows) if count > 0]
        middle = len(with_rows) // 2
        return with_rows[:middle], with_rows[middle:]


@dataclass(frozen=True)
class ResidualDayPart:
    """One prediction day's residual profile, with what it was counted from: the labels known by `labels_as_of`
    (the day's outcome part verifies them) and the features table's rows and latest timestamp that day."""

    profile: ResidualProfile
    labels_as_of: datetime
    feature_rows: int
    latest_feature: datetime | None


VERSION_METRICS = (
    "n",
    "label_n",
    "label_sum",
    "label_sq",
    "proxy_n",
    "proxy_sum",
    "proxy_sq",
    "score_n",
    "score_sum",
    "score_sq",
)
"""Sums per day (and version value) behind change attribution: rows, then count, sum and sum of squares of the
matured labels, the proxy and the score."""


@dataclass(frozen=True)
class VersionCounts:
    """One version column over one window: per day and value, the sums of VERSION_METRICS (only ``n`` for a
    column of the features table, which is not joined to outcomes)."""

    field: str
    """The policy path naming the column, e.g. ``tables.predictions.versions[0]``."""
    column: str
    values: tuple[str, ...]
    """This window's most frequent values, then OTHER and MISSING; the inner axis of `sums`."""
    sums: dict[str, tuple[tuple[float, ...], ...]]
    """Metric -> [day][value]."""


@dataclass(frozen=True)
class VersionProfile:
    """Label, proxy and score sums per day of one window: over all rows, and by value of each version column."""

    window: TimeWindow
    days: tuple[str, ...]
    overall: dict[str, tuple[float, ...]]
    """Metric of VERSION_METRICS -> value per day."""
    columns: tuple[VersionCounts, ...] = ()


@dataclass(frozen=True)
class DailyCounts:
    """Per-day counters of a simple table (overrides, training signals) over one window."""

    table: str
    window: TimeWindow
    days: tuple[str, ...]
    rows: tuple[int, ...]
    counters: dict[str, tuple[int, ...]]

    def total(self, counter: str) -> int:
        """A counter summed over the window."""
        return int(sum(self.counters.get(counter, ())))


@dataclass(frozen=True)
class KeyCounts:
    """Rows and distinct keys of one table over one window; every row beyond the first of its key is a duplicate."""

    table: str
    window: TimeWindow
    key: tuple[str, ...]
    """The key columns."""
    rows: int
    """Rows with no NULL in a key column."""
    keys: int
    """Distinct keys among those rows."""
    conflicting_keys: int = 0
    """Keys whose rows disagree on the value (the score of a prediction)."""

    @property
    def duplicates(self) -> int:
        """Rows beyond the first of their key."""
        return self.rows - self.keys

    @property
    def share(self) -> float:
        """Duplicates as a share of the rows (0 without rows)."""
        return self.duplicates / self.rows if self.rows else 0.0


@dataclass(frozen=True)
class KeyDayPart:
    """One day's key counts, with the table's rows and latest timestamp that day when they were counted."""

    counts: KeyCounts
    table_rows: int
    latest: datetime | None


@dataclass(frozen=True)
class EventRecord:
    """A known event (campaign, launch, incident) overlapping the current window."""

    starts_at: datetime
    ends_at: datetime | None
    kind: str | None
    description: str | None

    def covers_day(self, day: str) -> bool:
        """Whether the event overlaps the UTC day `day` (ISO date)."""
        day_start = to_utc(day)
        day_end = day_start.replace(hour=23, minute=59, second=59)
        return self.starts_at <= day_end and (self.ends_at is None or self.ends_at > day_start)

    def label(self) -> str:
        """How the event is named in messages."""
        name = self.description or self.kind or "event"
        kind = f"{self.kind} " if self.kind and self.description else ""
        until = self.ends_at.date().isoformat() if self.ends_at else "ongoing"
        return f"{kind}'{name}' ({self.starts_at.date().isoformat()} to {until})"


def merge_top_values(lists: Iterable[Iterable[tuple[str, int]]], top_k: int) -> tuple[tuple[str, int], ...]:
    """The `top_k` most frequent values of several lists of (value, count), counts summed across lists."""
    totals: dict[str, int] = {}
    for values in lists:
        for value, count in values:
            totals[value] = totals.get(value, 0) + count
    return tuple(sorted(totals.items(), key=lambda item: (-item[1], item[0]))[:top_k])


def to_jsonable(value: Any) -> Any:
    """Serialise a profile (nested dataclasses, Moments, windows, datetimes) to JSON-ready data."""
    if isinstance(value, Moments):
        return {"__moments__": value.to_list()}
    if isinstance(value, TimeWindow):
        return {"__window__": [value.name, value.start.isoformat(), value.end.isoformat()]}
    if isinstance(value, datetime):
        return {"__datetime__": value.isoformat()}
    if hasattr(value, "__dataclass_fields__"):
        return {
            "__type__": type(value).__name__,
            **{f.name: to_jsonable(getattr(value, f.name)) for f in fields(value)},
        }
    if isinstance(value, dict):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        if _PLAIN.issuperset(map(type, value)):  # counts and sums: most of a profile, written as they are
            return list(value)
        return [to_jsonable(item) for item in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


_PROFILE_TYPES = {
    cls.__name__: cls
    for cls in (
        NumericProfile,
        CategoricalProfile,
        TableProfile,
        OutcomeProfile,
        OutcomeDayPart,
        OutcomeLabelStamp,
        MulticlassProfile,
        FeatureResiduals,
        ResidualProfile,
        ResidualDayPart,
        VersionCounts,
        VersionProfile,
        DailyCounts,
        KeyCounts,
        KeyDayPart,
        EventRecord,
    )
}


def from_jsonable(value: Any) -> Any:
    """Inverse of `to_jsonable`; sequences come back as tuples."""
    if isinstance(value, dict):
        if "__moments__" in value:
            return Moments.from_list(value["__moments__"])
        if "__window__" in value:
            name, start, end = value["__window__"]
            return TimeWindow(name, to_utc(start), to_utc(end))
        if "__datetime__" in value:
            return to_utc(value["__datetime__"])
        if "__type__" in value:
            cls = _PROFILE_TYPES[value["__type__"]]
            return cls(**{key: from_jsonable(item) for key, item in value.items() if key != "__type__"})
        return {key: from_jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        if _PLAIN.issuperset(map(type, value)):  # counts and sums: most of a profile, decoded as they are
            return tuple(value)
        return tuple(from_jsonable(item) for item in value)
    return value


_PLAIN = frozenset((int, float, str, bool, type(None)))


def display_label(key: str) -> str:
    """How a category, segment or band key reads in messages and charts."""
    return {OTHER: "(other)", MISSING: "(null)"}.get(key, key)
