"""Profiles a multiclass model's predictions joined to the labels known by as_of, in the warehouse: per class,
label counts per bin of that class's score, and per day accuracy and log-loss sums."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.sql.expression import ColumnElement

from airflow_retrain_gate.core.profiling.class_columns import STRAY_CLASS, ClassColumns
from airflow_retrain_gate.core.profiling.outcomes import outcome_scans
from airflow_retrain_gate.core.profiling.profiles import MULTICLASS_METRICS, MulticlassProfile
from airflow_retrain_gate.core.profiling.queries import NumericEdges, day_key, grouped, window_rows
from airflow_retrain_gate.core.profiling.table_source import TableSource
from airflow_retrain_gate.core.sql import day_of
from airflow_retrain_gate.core.timeframes import TimeWindow

LOG_LOSS_FLOOR = 1e-15
"""Scores of the true class below this count as this much: log loss stays finite when a score is 0."""
MAX_STRAY_LABELS = 5
"""How many of the most frequent labels outside the classes a profile names."""


def _joined_rows(
    predictions: TableSource, outcomes: TableSource, window: TimeWindow, as_of: datetime
) -> tuple[sa.Subquery, int, bool]:
    """The window's scored predictions LEFT JOIN the labels known by as_of, with the class expressions computed
    once; (rows, number of classes, whether a score per class is mapped)."""
    join_on = sa.and_(
        predictions.column("entity") == outcomes.column("entity"),
        outcomes.column("label_timestamp") <= outcomes.instant("label_timestamp", as_of),
        *outcomes.filters(),
    )
    columns = ClassColumns.bind(predictions, outcomes)
    known = outcomes.column("entity").is_not(None)
    label = sa.case((known, columns.label_class))
    true_score = columns.true_class_score
    selected: dict[str, ColumnElement[Any]] = {
        "day": day_of(predictions.column("timestamp")),
        "label": label,
        "predicted": columns.predicted_class,
        **{f"s{index}": score for index, score in enumerate(columns.class_scores)},
    }
    if true_score is not None:
        floor = sa.literal(LOG_LOSS_FLOOR, sa.Double)
        selected["loss"] = -sa.func.ln(
            sa.case(
                (true_score < floor, floor), (true_score > 1.0, sa.literal(1.0, sa.Double)), else_=true_score
            )
        )
    where = [
        *predictions.in_window("timestamp", window),
        columns.predicted_class.is_not(None),
        columns.confidence.is_not(None),
    ]
    source = predictions.clause.outerjoin(outcomes.clause, join_on)
    rows = window_rows(source, where, selected, predictions.warehouse.dialect)
    return rows, len(columns.classes), true_score is not None


def _measures(rows: sa.Subquery, classes: int, with_loss: bool) -> list[ColumnElement[Any]]:
    """Counts of the grouped rows: the day metrics, then the matured labels of each class."""

    def count(condition: ColumnElement[bool]) -> ColumnElement[Any]:
        return sa.func.sum(sa.case((condition, 1), else_=0))

    label = rows.c.label
    in_classes = label.is_not(None) & (label != STRAY_CLASS)
    zero = sa.literal(0.0, sa.Double)
    metrics = {
        "n": sa.func.count(),
        "matured": count(label.is_not(None)),
        "in_classes": count(in_classes),
        "correct": count(in_classes & (label == rows.c.predicted)),
        "log_loss": sa.func.sum(sa.case((in_classes, rows.c.loss))) if with_loss else zero,
        "stray": count(label == STRAY_CLASS),
    }
    return [
        *[metrics[name].label(name) for name in MULTICLASS_METRICS],
        *[count(label == index).label(_positives_label(index)) for index in range(classes)],
    ]


def _positives_label(class_index: int) -> str:
    """The result column counting the matured labels of class `class_index` (written by `_measures`)."""
    return f"p{class_index}"


def _stray_labels(
    predictions: TableSource, outcomes: TableSource, window: TimeWindow, as_of: datetime
) -> tuple[tuple[str, int], ...]:
    """The most frequent matured labels of the window outside the classes, with their counts."""
    columns = ClassColumns.bind(predictions, outcomes)
    raw = outcomes.column("label")
    query = (
        sa.select(sa.cast(raw, sa.String).label("value"), sa.func.count().label("n"))
        .select_from(
            predictions.clause.join(
                outcomes.clause,
                sa.and_(
                    predictions.column("entity") == outcomes.column("entity"),
                    outcomes.column("label_timestamp") <= outcomes.instant("label_timestamp", as_of),
                    *outcomes.filters(),
                ),
            )
        )
        .where(*predictions.in_window("timestamp", window), columns.label_class == STRAY_CLASS)
        .group_by(sa.cast(raw, sa.String))
        .order_by(sa.func.count().desc(), sa.cast(raw, sa.String))
        .limit(MAX_STRAY_LABELS)
    )
    rows = outcomes.warehouse.fetch(
        query, f"profile classes {window.name}: stray labels", outcome_scans(predictions, outcomes, window)
    )
    return tuple((str(row.value), int(row.n)) for row in rows)


def profile_classes(
    predictions: TableSource, outcomes: TableSource, window: TimeWindow, as_of: datetime, fine_bins: int
) -> MulticlassProfile:
    """Aggregate a multiclass model's predictions made in `window` with their labels known by `as_of`."""
    window = predictions.window_of("timestamp", window)
    warehouse = predictions.warehouse
    rows, classes, with_loss = _joined_rows(predictions, outcomes, window, as_of)
    edges = NumericEdges(0.0, 1.0, fine_bins)
    keys: dict[str, ColumnElement[Any]] = {"day": rows.c.day}
    keys.update({f"b{index}": edges.bucket(rows.c[f"s{index}"]) for index in range(classes)})
    sets = [("day", f"b{index}") for index in range(classes)]
    query = grouped(
        rows, [], keys, sets, _measures(rows, classes, with_loss), warehouse.supports_grouping_sets
    )
    days = [day.isoformat() for day in window.days()]
    day_index = {day: index for index, day in enumerate(days)}
    matured = np.zeros((classes, len(days), edges.slots))
    positives = np.zeros((classes, len(days), edges.slots))
    daily = {name: np.zeros(len(days)) for name in MULTICLASS_METRICS}
    scans = outcome_scans(predictions, outcomes, window)
    for row in warehouse.fetch(query, f"profile classes {window.name}: score bins", scans):
        values = row._mapping
        position = day_index.get(day_key(values["day"])) if values["day"] is not None else None
        grouping = next((index for index in range(classes) if values[f"b{index}"] is not None), None)
        if position is None or grouping is None:
            continue
        slot = min(max(int(values[f"b{grouping}"]) + 1, 0), edges.slots - 1)
        matured[grouping, position, slot] += float(values["in_classes"] or 0)
        positives[grouping, position, slot] += float(values[_positives_label(grouping)] or 0)
        if grouping == 0:  # every row falls in one bin of each class: count the day's totals once
            for name in MULTICLASS_METRICS:
                daily[name][position] += float(values[name] or 0.0)
    strays = _stray_labels(predictions, outcomes, window, as_of) if daily["stray"].sum() else ()
    return MulticlassProfile(
        window=window,
        classes=tuple(str(name) for name in outcomes.mapping.classes or ()),  # type: ignore[attr-defined]
        score_edges=edges.edges,
        days=tuple(days),
        matured=_nested(matured),
        positives=_nested(positives),
        daily={name: tuple(float(value) for value in values) for name, values in daily.items()},
        has_log_loss=with_loss,
        stray_labels=strays,
    )


def _nested(counts: np.ndarray) -> tuple[tuple[tuple[float, ...], ...], ...]:
    """A [class][day][bin] array as nested tuples (profiles are frozen and serialisable)."""
    return tuple(tuple(tuple(float(value) for value in day) for day in per_class) for per_class in counts)
