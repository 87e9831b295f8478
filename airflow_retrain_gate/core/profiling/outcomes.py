"""Profiles predictions joined to the outcomes known by as_of: score bins x day, and bands."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.sql.expression import ColumnElement

from airflow_retrain_gate.core.profiling.cache import short_digest
from airflow_retrain_gate.core.profiling.class_columns import ClassColumns
from airflow_retrain_gate.core.profiling.day_parts import day_spans
from airflow_retrain_gate.core.profiling.profiles import MISSING, OTHER, OUTCOME_METRICS, OutcomeProfile
from airflow_retrain_gate.core.profiling.queries import (
    NULL_BUCKET,
    NumericEdges,
    category_key,
    day_key,
    grouped,
    window_rows,
)
from airflow_retrain_gate.core.profiling.table_source import TableSource
from airflow_retrain_gate.core.scans import Scan
from airflow_retrain_gate.core.sql import SAFE_MAGNITUDE, day_of, population_variance, within_safe_magnitude
from airflow_retrain_gate.core.timeframes import TimeWindow

MAX_BANDS = 20
LABELS_SPAN = "labels by as_of"
"""What the join reads of the outcomes table: every label known by as_of (label times are not windowed)."""
MAX_LABEL_CLASSES = 2
"""A reference label with at most this many values is a class set (0/1, -1/1, 1/2); more values are numeric."""
MAX_RECODED_VALUES = 2 * MAX_LABEL_CLASSES
"""A reference whose class set was recoded into another one inside it holds at most this many label values."""
MAX_BREAK_CHANCE = 1e-3
"""A run of days with labels outside the domain of the days before is a break when labels that were there all
along would have missed every day before it with a smaller chance than this."""
MAX_STRAY_LABELS = 5
"""How many of the most frequent labels outside the reference's domain a profile names."""
WHOLE_DOUBLES = 2.0**53
"""From this magnitude on, every double is a whole number."""


@dataclass(frozen=True)
class OutcomeBinning:
    """Score bins and bands every window is counted on, derived from the reference window."""

    score: NumericEdges
    bands: tuple[str, ...]
    label_kind: str
    label_classes: tuple[float, ...] = ()
    """The reference's label values when they form a class set; a label outside them is counted."""
    whole_labels: bool = False
    """Whether every reference label was a whole number; a fractional label is then counted."""
    domain_until: str | None = None
    """The reference day from which its labels left the domain of the days before and never came back (see
    `domain_break_day`); the domain is that of the earlier days. None: the whole reference kept one domain."""

    @classmethod
    def of(cls, reference: OutcomeProfile) -> OutcomeBinning:
        """The binning a reference outcome profile was counted on."""
        edges = reference.score_edges
        score = NumericEdges(edges[0], edges[-1], max(len(edges) - 1, 1))
        bands = tuple(band for band in reference.bands if band not in (OTHER, MISSING))
        return cls(
            score,
            bands,
            reference.label_kind,
            reference.label_classes,
            reference.whole_labels,
            reference.domain_until,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON form, as a baseline keeps it (`from_dict` reads it back)."""
        return {
            "score": [self.score.low, self.score.high, self.score.bins],
            "bands": list(self.bands),
            "label_kind": self.label_kind,
            "label_classes": list(self.label_classes),
            "whole_labels": self.whole_labels,
            "domain_until": self.domain_until,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OutcomeBinning:
        """Inverse of `to_dict` (sequences may come back as tuples)."""
        low, high, bins = data["score"]
        return cls(
            NumericEdges(float(low), float(high), int(bins)),
            tuple(data["bands"]),
            str(data["label_kind"]),
            tuple(float(value) for value in data["label_classes"]),
            bool(data["whole_labels"]),
            data["domain_until"],
        )

    def digest(self) -> str:
        """A short stable name of these bins and this domain: part of a day part's cache key."""
        return short_digest(self.to_dict())

    def stray(self, label: ColumnElement[Any]) -> ColumnElement[bool]:
        """SQL: the label lies outside the reference's domain (its class set, or whole numbers), or beyond
        any real measurement's magnitude."""
        tests = [sa.func.abs(label) > SAFE_MAGNITUDE]
        if self.label_classes:
            tests.append(label.not_in([sa.literal(value, sa.Double) for value in self.label_classes]))
        if self.whole_labels:
            tests.append(fractional(label))
        return sa.or_(*tests)


def fractional(value: ColumnElement[Any]) -> ColumnElement[bool]:
    """SQL: a double that is not a whole number. Every double beyond 2**53 is whole; below, it differs from
    its cast to BIGINT, whether the dialect truncates or rounds (and SQLite may lack FLOOR)."""
    return sa.case(
        (sa.func.abs(value) < WHOLE_DOUBLES, value != sa.cast(value, sa.BigInteger)), else_=sa.false()
    )


@dataclass(frozen=True)
class JoinedOutcomes:
    source: sa.FromClause
    where: list[ColumnElement[bool]]
    timestamp: ColumnElement[Any]
    score: ColumnElement[Any] | None
    band: ColumnElement[Any] | None
    label: ColumnElement[Any]
    known: ColumnElement[bool]
    proxy: ColumnElement[Any] | None
    engagement: ColumnElement[Any] | None
    early: ColumnElement[bool] | None = None
    """A known label whose timestamp is earlier than its prediction's (None without predictions)."""
    scans: tuple[Scan, ...] = ()
    """The table windows a query over these rows reads."""


def join_outcomes(
    predictions: TableSource | None, outcomes: TableSource, window: TimeWindow, as_of: datetime
) -> JoinedOutcomes:
    """Predictions in the window LEFT JOIN outcomes known by as_of; without predictions, outcomes by label time."""
    mapping = outcomes.mapping
    # A multiclass model is judged here on whether its predicted class was right, at its confidence.
    multiclass = ClassColumns.bind(predictions, outcomes) if predictions and mapping.classes else None  # type: ignore[attr-defined]
    label = (
        multiclass.correct(outcomes.column("entity").is_not(None))
        if multiclass
        else outcomes.number("label", mapping.label)  # type: ignore[attr-defined]
    )
    proxy = outcomes.number("proxy", mapping.proxy) if mapping.proxy else None  # type: ignore[attr-defined]
    engagement = (
        outcomes.number("engagement", mapping.engagement) if mapping.engagement else None  # type: ignore[attr-defined]
    )
    if predictions is None:
        label_time = outcomes.column("label_timestamp")
        where = [
            *outcomes.in_window("label_timestamp", window),
            label_time <= outcomes.instant("label_timestamp", as_of),
        ]
        return JoinedOutcomes(
            outcomes.clause,
            where,
            label_time,
            None,
            None,
            label,
            label.is_not(None),
            proxy,
            engagement,
            scans=outcome_scans(predictions, outcomes, window),
        )
    join_on = sa.and_(
        predictions.column("entity") == outcomes.column("entity"),
        outcomes.column("label_timestamp") <= outcomes.instant("label_timestamp", as_of),
        *outcomes.filters(),
    )
    source = predictions.clause.outerjoin(outcomes.clause, join_on)
    score = multiclass.confidence if multiclass else predictions.number("score", predictions.mapping.score)  # type: ignore[attr-defined]
    band = predictions.column("band") if predictions.mapping.band else None  # type: ignore[attr-defined]
    known = outcomes.column("entity").is_not(None) & label.is_not(None)
    early = known & (outcomes.column("label_timestamp") < _prediction_time(predictions, outcomes))
    where = predictions.in_window("timestamp", window)
    scans = outcome_scans(predictions, outcomes, window)
    return JoinedOutcomes(
        source,
        where,
        predictions.column("timestamp"),
        score,
        band,
        label,
        known,
        proxy,
        engagement,
        early,
        scans,
    )


def outcome_scans(
    predictions: TableSource | None, outcomes: TableSource, window: TimeWindow
) -> tuple[Scan, ...]:
    """What a query over the outcomes of `window` reads: the window's predictions and every label known by as_of,
    or without predictions, the labels timed in the window."""
    if predictions is None:
        return (outcomes.scan(window),)
    return predictions.scan(window), outcomes.scan(LABELS_SPAN)


def _prediction_time(predictions: TableSource, outcomes: TableSource) -> ColumnElement[Any]:
    """The prediction's time at the label timestamp's resolution: a label dated by day is early only when
    dated before the prediction's day."""
    predicted_at = predictions.column("timestamp")
    label_type = outcomes.kind(outcomes.mapping.label_timestamp)  # type: ignore[attr-defined]
    return day_of(predicted_at) if label_type == "date" else predicted_at


def windowed(joined: JoinedOutcomes, dialect: str) -> JoinedOutcomes:
    """The joined rows with each expression computed once (see `window_rows`); labels are NULL unless known."""
    columns: dict[str, ColumnElement[Any]] = {
        "ts": joined.timestamp,
        "day": day_of(joined.timestamp),
        "known": sa.case((joined.known, 1), else_=0),
        "label": sa.case((joined.known, joined.label)),
    }
    if joined.early is not None:
        columns["early"] = sa.case((joined.early, 1), else_=0)
    if joined.score is not None:
        columns["score"] = joined.score
    for name in ("band", "proxy", "engagement"):
        if getattr(joined, name) is not None:
            columns[name] = getattr(joined, name)
    rows = window_rows(joined.source, joined.where, columns, dialect)
    return JoinedOutcomes(
        source=rows,
        where=[],
        timestamp=rows.c.ts,
        score=rows.c.score if "score" in columns else None,
        band=rows.c.band if "band" in columns else None,
        label=rows.c.label,
        known=rows.c.known == 1,
        proxy=rows.c.proxy if "proxy" in columns else None,
        engagement=rows.c.engagement if "engagement" in columns else None,
        early=rows.c.early == 1 if "early" in columns else None,
        scans=joined.scans,
    )


def _reference_binning(
    warehouse: Any, joined: JoinedOutcomes, fine_bins: int, purpose: str
) -> tuple[OutcomeBinning, int]:
    label = joined.label
    measures = [sa.func.count(label).label("labels"), *_domain_counts(label)]
    if joined.score is not None:
        measures += [
            sa.func.min(joined.score).label("min"),
            sa.func.max(joined.score).label("max"),
            sa.func.avg(joined.score).label("mean"),
            population_variance(joined.score).label("var"),
        ]
    row = warehouse.fetch(
        sa.select(*measures).select_from(joined.source).where(*joined.where), purpose, joined.scans
    )[0]
    label_kind = "binary" if (row.non_binary or 0) == 0 else "numeric"
    whole = (row.fractional or 0) == 0
    domain_until = None
    if row.non_binary or row.fractional:
        broken = _domain_break(warehouse, joined, purpose + " (label domain by day)")
        if broken is not None:
            label_kind, whole, domain_until = broken
    classes: tuple[float, ...] = (0.0, 1.0) if label_kind == "binary" else ()
    if label_kind == "numeric" and whole and domain_until is None:
        classes, domain_until = _label_classes(warehouse, joined, purpose + " (label values)")
    labels = int(row.labels or 0)
    if joined.score is None:
        return OutcomeBinning(NumericEdges(0.0, 0.0, 1), (), label_kind, classes, whole, domain_until), labels
    std = float(row.var or 0.0) ** 0.5
    edges = NumericEdges.from_range(
        None if row.min is None else float(row.min),
        None if row.max is None else float(row.max),
        float(row.mean or 0.0),
        std,
        fine_bins,
    )
    bands: tuple[str, ...] = ()
    if joined.band is not None:
        band_rows = warehouse.fetch(
            sa.select(sa.cast(joined.band, sa.String).label("band"), sa.func.count().label("n"))
            .select_from(joined.source)
            .where(*joined.where, joined.band.is_not(None))
            .group_by(sa.cast(joined.band, sa.String))
            .order_by(sa.func.count().desc())
            .limit(MAX_BANDS),
            purpose + " (bands)",
            joined.scans,
        )
        bands = tuple(str(band_row.band) for band_row in band_rows)
    return OutcomeBinning(edges, bands, label_kind, classes, whole, domain_until), labels


def _domain_counts(label: ColumnElement[Any]) -> list[ColumnElement[Any]]:
    """SQL: labels other than 0 and 1 (``non_binary``) and labels that are not whole (``fractional``)."""
    return [
        sa.func.sum(sa.case(((label != 0) & (label != 1), 1), else_=0)).label("non_binary"),
        sa.func.sum(sa.case((fractional(label), 1), else_=0)).label("fractional"),
    ]


@dataclass(frozen=True)
class DayLabels:
    """One reference day's labels: how many, and how many of them lie outside a domain."""

    day: str
    labels: int
    outside: int


def domain_break_day(days: Sequence[DayLabels]) -> str | None:
    """The first of a run of days that ends the reference and breaks the domain of every day before it.

    `days` are in order, for days with labels. Labels recoded upstream (0/1 to 1/2, or whole numbers to
    fractions) and never fixed enter the reference window weeks later; the domain is then that of the days
    before the run, so the current labels keep failing `label_domain` instead of feeding a retrain. Scattered or
    leading breaks are no run: the reference's domain is simply wider. Nor is a rare value that happened to miss
    the first days: the run must hold too many such labels for that (MAX_BREAK_CHANCE).
    """
    first = next((index for index, day in enumerate(days) if day.outside), 0)
    before, run = days[:first], days[first:]
    if not before or not all(day.outside for day in run):
        return None
    labels_run = sum(day.labels for day in run)
    share_run = labels_run / (labels_run + sum(day.labels for day in before))
    # Had these labels been spread over the whole reference, each would have fallen in the run with a chance of
    # share_run, and all of them with share_run ** outside.
    chance = share_run ** sum(day.outside for day in run)
    return run[0].day if chance < MAX_BREAK_CHANCE else None


def _domain_break(warehouse: Any, joined: JoinedOutcomes, purpose: str) -> tuple[str, bool, str] | None:
    """The reference's domain before a trailing run of days that left it: (label kind, whole labels, the run's
    first day); None when there is no such run."""
    day = joined.source.c.day
    rows = warehouse.fetch(
        sa.select(day.label("day"), sa.func.count().label("labels"), *_domain_counts(joined.label))
        .select_from(joined.source)
        .where(*joined.where, joined.label.is_not(None))
        .group_by(day),
        purpose,
        joined.scans,
    )
    days = sorted(
        (day_key(row.day), int(row.labels), int(row.non_binary or 0), int(row.fractional or 0))
        for row in rows
    )
    non_binary = domain_break_day([DayLabels(day, labels, count) for day, labels, count, _ in days])
    if non_binary is not None:
        return "binary", True, non_binary
    fractional_since = domain_break_day([DayLabels(day, labels, count) for day, labels, _, count in days])
    return None if fractional_since is None else ("numeric", True, fractional_since)


def _label_values(
    warehouse: Any, joined: JoinedOutcomes, where: ColumnElement[bool], limit: int, purpose: str
) -> list[tuple[float, int]]:
    """The most frequent matured label values matching `where`, with their counts."""
    label = joined.label
    rows = warehouse.fetch(
        sa.select(label.label("value"), sa.func.count().label("n"))
        .select_from(joined.source)
        .where(*joined.where, joined.known, where)
        .group_by(label)
        .order_by(sa.func.count().desc(), label)
        .limit(limit),
        purpose,
        joined.scans,
    )
    return [(float(row.value), int(row.n)) for row in rows]


def _label_classes(
    warehouse: Any, joined: JoinedOutcomes, purpose: str
) -> tuple[tuple[float, ...], str | None]:
    """The reference's class set of whole-number labels, and the day a recoding into another class set began
    (see `class_set_break`; None without one). No class set, (), with more than MAX_LABEL_CLASSES values."""
    values = _label_values(warehouse, joined, sa.true(), MAX_RECODED_VALUES + 1, purpose)
    if len(values) <= MAX_LABEL_CLASSES:
        return tuple(sorted(value for value, _ in values)), None
    if len(values) > MAX_RECODED_VALUES:
        return (), None
    day = joined.source.c.day
    rows = warehouse.fetch(
        sa.select(day.label("day"), joined.label.label("value"), sa.func.count().label("n"))
        .select_from(joined.source)
        .where(*joined.where, joined.known)
        .group_by(day, joined.label),
        purpose + " by day",
        joined.scans,
    )
    by_day: dict[str, dict[float, int]] = {}
    for row in rows:
        by_day.setdefault(day_key(row.day), {})[float(row.value)] = int(row.n)
    broken = class_set_break(sorted(by_day.items()))
    return ((), None) if broken is None else (broken[1], broken[0])


def class_set_break(days: Sequence[tuple[str, dict[float, int]]]) -> tuple[str, tuple[float, ...]] | None:
    """The first of a run of days that ends the reference, each with labels outside the class set of every day
    before it (see `domain_break_day`), and that class set; None when there is none.

    `days` are (day, count of each label value) in order. A class set recoded into another (-1/1 to 0/1) mixes
    both in the reference once the recoding is weeks old; the class set is then that of the days before.
    """
    # The class set is the values of the earliest days, up to the day they make a whole one; later days of the
    # same set would find the same run, and a day that adds a third value leaves no class set.
    classes: set[float] = set()
    for _, counts in days[:-1]:
        classes |= counts.keys()
        if len(classes) >= MAX_LABEL_CLASSES:
            break
    if len(classes) != MAX_LABEL_CLASSES:
        return None
    outside = [
        DayLabels(day, sum(counts.values()), sum(n for value, n in counts.items() if value not in classes))
        for day, counts in days
    ]
    since = domain_break_day(outside)
    return None if since is None else (since, tuple(sorted(classes)))


def _measures(joined: JoinedOutcomes, binning: OutcomeBinning) -> list[ColumnElement[Any]]:
    """The OUTCOME_METRICS aggregates over `windowed` rows, where a label is NULL unless it is known."""
    stray = binning.stray(joined.label)
    # Squares of larger labels overflow; `stray` counts them instead.
    label, score = within_safe_magnitude(joined.label), joined.score
    zero = sa.literal(0.0, sa.Double)
    error = (label - score) if score is not None else None
    measures = {
        "n": sa.func.count(),
        "matured": sa.func.sum(sa.case((joined.known, 1), else_=0)),
        "label_sum": sa.func.sum(label),
        "label_sq": sa.func.sum(label * label),
        "score_sum": sa.func.sum(sa.case((joined.known, score))) if score is not None else zero,
        "error_sq": sa.func.sum(error * error) if error is not None else zero,
        "error_sq_sq": sa.func.sum(error * error * error * error) if error is not None else zero,
        "proxy_n": sa.func.count(joined.proxy) if joined.proxy is not None else zero,
        "proxy_sum": sa.func.sum(joined.proxy) if joined.proxy is not None else zero,
        "engagement_n": sa.func.count(joined.engagement) if joined.engagement is not None else zero,
        "engagement_sum": sa.func.sum(joined.engagement) if joined.engagement is not None else zero,
        "engagement_sq": sa.func.sum(joined.engagement * joined.engagement)
        if joined.engagement is not None
        else zero,
        "label_stray": sa.func.sum(sa.case((stray, 1), else_=0)),
        "label_early": sa.func.sum(sa.case((joined.early, 1), else_=0)) if joined.early is not None else zero,
    }
    return [measures[name].label(name) for name in OUTCOME_METRICS]


def profile_outcomes(
    predictions: TableSource | None,
    outcomes: TableSource,
    window: TimeWindow,
    as_of: datetime,
    binning: OutcomeBinning | None,
    fine_bins: int,
) -> OutcomeProfile:
    """Aggregate outcomes (known by `as_of`) of the predictions made in `window`, on `binning` (None: derived
    from this window): the merge of its days, with the stray labels named."""
    window = judged_window(predictions, outcomes, window)
    if binning is None:
        binning, _ = derive_outcome_binning(predictions, outcomes, window, as_of, fine_bins)
    merged = merge_outcome_days(window, outcome_days(predictions, outcomes, window, as_of, binning))
    return with_stray_labels(merged, predictions, outcomes, as_of, binning)


def judged_window(predictions: TableSource | None, outcomes: TableSource, window: TimeWindow) -> TimeWindow:
    """The part of `window` its outcomes are judged over: by prediction time, or without predictions by label
    time (whole days for a DATE column)."""
    if predictions is not None:
        return predictions.window_of("timestamp", window)
    return outcomes.window_of("label_timestamp", window)


def derive_outcome_binning(
    predictions: TableSource | None,
    outcomes: TableSource,
    window: TimeWindow,
    as_of: datetime,
    fine_bins: int,
) -> tuple[OutcomeBinning, int]:
    """The score bins, bands and label domain of `window`'s outcomes (a reference window), and how many matured
    labels they were read from."""
    joined = windowed(join_outcomes(predictions, outcomes, window, as_of), outcomes.warehouse.dialect)
    return _reference_binning(
        outcomes.warehouse, joined, fine_bins, f"profile outcomes {window.name}: score range"
    )


def outcome_days(
    predictions: TableSource | None,
    outcomes: TableSource,
    window: TimeWindow,
    as_of: datetime,
    binning: OutcomeBinning,
) -> list[OutcomeProfile]:
    """One profile per day span of `window` (`day_spans`), counted on `binning` in one statement; the stray
    labels are not named (`with_stray_labels` does that for a merged window)."""
    warehouse = outcomes.warehouse
    joined = windowed(join_outcomes(predictions, outcomes, window, as_of), warehouse.dialect)
    days = [day.isoformat() for day in window.days()]
    day_index = {day: index for index, day in enumerate(days)}
    keys: dict[str, ColumnElement[Any]] = {"day": joined.source.c.day}
    keys["sb"] = binning.score.bucket(joined.score) if joined.score is not None else sa.literal(0)
    sets: list[tuple[str, ...]] = [("day", "sb")]
    if joined.band is not None:
        keys["band"] = category_key(joined.band, binning.bands)
        sets.append(("day", "band", "sb"))
    rows = warehouse.fetch(
        grouped(
            joined.source,
            joined.where,
            keys,
            sets,
            _measures(joined, binning),
            warehouse.supports_grouping_sets,
        ),
        f"profile outcomes {window.name}: score bins",
        joined.scans,
    )
    slots = binning.score.slots if joined.score is not None else 1
    band_slots = [*binning.bands, OTHER, MISSING]
    daily = {name: np.zeros((len(days), slots)) for name in OUTCOME_METRICS}
    band_daily = {name: np.zeros((len(days), len(band_slots), slots)) for name in OUTCOME_METRICS}
    unscored = np.zeros(len(days), dtype=np.int64)
    for row in rows:
        values = row._mapping
        position = day_index.get(day_key(values["day"])) if values.get("day") is not None else None
        if position is None:
            continue
        bucket = int(values["sb"]) if joined.score is not None else 0
        if bucket == NULL_BUCKET:
            if values.get("band") is None:  # count each prediction once: in the day grouping set
                unscored[position] += int(values["n"] or 0)
            continue  # a prediction without a score cannot be placed on the score axis
        slot = min(max(bucket + 1, 0), slots - 1) if joined.score is not None else 0
        if values.get("band") is not None:
            band = (
                band_slots.index(values["band"]) if values["band"] in band_slots else band_slots.index(OTHER)
            )
            for name in OUTCOME_METRICS:
                band_daily[name][position, band, slot] += float(values[name] or 0.0)
            continue
        for name in OUTCOME_METRICS:
            daily[name][position, slot] += float(values[name] or 0.0)
    return [
        OutcomeProfile(
            window=span,
            predictions=int(daily["n"][index].sum()),
            matured=int(daily["matured"][index].sum()),
            unscored=int(unscored[index]),
            label_kind=binning.label_kind,
            label_classes=binning.label_classes,
            whole_labels=binning.whole_labels,
            domain_until=binning.domain_until,
            score_edges=binning.score.edges,
            days=(days[index],),
            daily_bins={name: (tuple(float(v) for v in daily[name][index]),) for name in OUTCOME_METRICS},
            bands=tuple(band_slots) if joined.band is not None else (),
            band_bins={
                name: tuple(tuple(float(v) for v in band) for band in values[index])
                for name, values in band_daily.items()
            }
            if joined.band is not None
            else {},
        )
        for index, span in enumerate(day_spans(window))
    ]


def merge_outcome_days(window: TimeWindow, parts: Sequence[OutcomeProfile]) -> OutcomeProfile:
    """The profile of `window` from the profiles of its days, in order; the stray labels are not named."""
    if not parts:
        raise ValueError(f"no day parts to merge for the {window.name} window")
    first = parts[0]
    band_bins = {
        name: tuple(
            tuple(float(v) for v in band)
            for band in np.sum([np.asarray(part.band_bins[name], float) for part in parts], axis=0)
        )
        for name in first.band_bins
    }
    return replace(
        first,
        window=window,
        predictions=sum(part.predictions for part in parts),
        matured=sum(part.matured for part in parts),
        unscored=sum(part.unscored for part in parts),
        days=tuple(day for part in parts for day in part.days),
        daily_bins={
            name: tuple(day for part in parts for day in part.daily_bins[name]) for name in first.daily_bins
        },
        band_bins=band_bins,
        stray_labels=(),
    )


def with_stray_labels(
    profile: OutcomeProfile,
    predictions: TableSource | None,
    outcomes: TableSource,
    as_of: datetime,
    binning: OutcomeBinning,
) -> OutcomeProfile:
    """`profile` with its most frequent labels outside the domain named (one more statement, only when some are
    counted)."""
    if not profile.totals("label_stray"):
        return profile
    joined = windowed(join_outcomes(predictions, outcomes, profile.window, as_of), outcomes.warehouse.dialect)
    strays = _label_values(
        outcomes.warehouse,
        joined,
        binning.stray(joined.label),
        MAX_STRAY_LABELS,
        f"profile outcomes {profile.window.name}: stray labels",
    )
    return replace(profile, stray_labels=tuple(strays))
