"""Profiles the residuals (label - score) of matured predictions by reference bin of each feature, per day.

Each prediction joins the features row of its entity on the same (UTC) day; only the residual sums, their squares
and the counts per day x bin leave the warehouse.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.sql.expression import ColumnElement
from sqlalchemy.sql.util import ClauseAdapter

from airflow_retrain_gate.core.policy import FeaturesTable
from airflow_retrain_gate.core.profiling.day_parts import day_spans
from airflow_retrain_gate.core.profiling.features import FeatureBinning
from airflow_retrain_gate.core.profiling.outcomes import join_outcomes, outcome_scans
from airflow_retrain_gate.core.profiling.profiles import (
    MISSING,
    OTHER,
    RESIDUAL_METRICS,
    FeatureResiduals,
    ResidualProfile,
)
from airflow_retrain_gate.core.profiling.queries import (
    NULL_BUCKET,
    NumericEdges,
    category_key,
    day_key,
    window_rows,
)
from airflow_retrain_gate.core.profiling.table_source import TableSource
from airflow_retrain_gate.core.sql import day_of, within_safe_magnitude
from airflow_retrain_gate.core.timeframes import TimeWindow


def profile_residuals(
    predictions: TableSource,
    outcomes: TableSource,
    features: TableSource,
    window: TimeWindow,
    as_of: datetime,
    binning: FeatureBinning,
) -> ResidualProfile:
    """Residual sums, squares and counts of the predictions made in `window` whose outcome is known by `as_of`,
    per day x bin of each feature of `binning` (the features reference's bins)."""
    mapping: FeaturesTable = features.mapping  # type: ignore[assignment]
    warehouse = outcomes.warehouse
    window = predictions.window_of("timestamp", window)
    joined = join_outcomes(predictions, outcomes, window, as_of)
    assert joined.score is not None
    # An alias lets the features live in the same table as the predictions.
    side = features.clause.alias("scored_features")
    on_side = ClauseAdapter(side).traverse
    feature_entity, predicted_entity = on_side(features.column("entity")), predictions.column("entity")
    assert mapping.entity is not None
    if features.kind(mapping.entity) != predictions.kind(predictions.mapping.entity):  # type: ignore[attr-defined]
        # Keys stored as a number in one table and as text in the other still name the same entity.
        feature_entity, predicted_entity = (
            sa.cast(feature_entity, sa.String),
            sa.cast(predicted_entity, sa.String),
        )
    scored_on = sa.and_(
        feature_entity == predicted_entity,
        day_of(on_side(features.column("timestamp"))) == day_of(joined.timestamp),
        *[on_side(predicate) for predicate in features.filters()],
    )
    numeric, categorical = list(mapping.numeric), list(mapping.categorical)
    columns: dict[str, ColumnElement[Any]] = {
        "day": day_of(joined.timestamp),
        # Beyond any real magnitude a residual would overflow its square: left out (label_domain names it).
        "residual": within_safe_magnitude(joined.label - joined.score),
    }
    columns.update(
        {f"v{i}": on_side(features.number(f"numeric[{i}]", name)) for i, name in enumerate(numeric)}
    )
    columns.update(
        {f"c{i}": on_side(features.named(name, f"categorical[{i}]")) for i, name in enumerate(categorical)}
    )
    rows = window_rows(
        joined.source.join(side, scored_on), [*joined.where, joined.known], columns, warehouse.dialect
    )
    # Each joined row is counted once per feature by pairing it with the list of feature indexes (one more index
    # counts the day's rows): the join is computed once, not once per feature as GROUPING SETS or UNION ALL would.
    names = [*numeric, *categorical]
    indexes = sa.union_all(
        *[sa.select(sa.literal(index, sa.Integer).label("feature")) for index in range(len(names) + 1)]
    ).subquery("feature_indexes")
    feature = indexes.c.feature
    keys = {
        "bucket": [
            (feature == i, binning.numeric[name].bucket(rows.c[f"v{i}"])) for i, name in enumerate(numeric)
        ],
        "category": [
            (feature == len(numeric) + i, category_key(rows.c[f"c{i}"], binning.categories[name]))
            for i, name in enumerate(categorical)
        ],
    }
    # A feature's key: its bucket (numeric) or category (categorical) on its own index, NULL on the others.
    key_columns = [
        sa.case(*branches, else_=sa.null()).label(key) for key, branches in keys.items() if branches
    ]
    residual = rows.c.residual
    query = (
        sa.select(
            rows.c.day,
            feature,
            *key_columns,
            *_residual_measures(residual),
        )
        .select_from(rows.join(indexes, sa.true()))
        .group_by(rows.c.day, feature, *[column.element for column in key_columns])
    )
    scans = (*outcome_scans(predictions, outcomes, window), features.scan(window))
    result = warehouse.fetch(query, f"profile residuals by feature bin {window.name}", scans)
    days = [day.isoformat() for day in window.days()]
    return _assemble(window, days, binning, names, len(numeric), result)


def _residual_measures(residual: ColumnElement[Any]) -> list[ColumnElement[Any]]:
    """The RESIDUAL_METRICS aggregates of the grouped residuals, labelled by metric (`_assemble` reads them)."""
    measures = {
        "n": sa.func.count(residual),
        "residual_sum": sa.func.sum(residual),
        "residual_sq": sa.func.sum(residual * residual),
    }
    return [measures[name].label(name) for name in RESIDUAL_METRICS]


def _assemble(
    window: TimeWindow,
    days: list[str],
    binning: FeatureBinning,
    names: list[str],
    numeric: int,
    result: list[Any],
) -> ResidualProfile:
    """Decode the grouped rows (day, feature index, its bucket or category) into per-feature [metric][day][slot]
    arrays; the index past the last feature holds the day's joined rows."""
    day_index = {day: index for index, day in enumerate(days)}
    slots = {name: [*binning.categories[name], OTHER, MISSING] for name in names[numeric:]}
    arrays = {
        name: np.zeros(
            (
                len(RESIDUAL_METRICS),
                len(days),
                binning.numeric[name].slots if index < numeric else len(slots[name]),
            )
        )
        for index, name in enumerate(names)
    }
    rows_per_day = np.zeros(len(days), dtype=np.int64)
    for row in result:
        position = day_index.get(day_key(row.day)) if row.day is not None else None
        if position is None:
            continue
        if row.feature == len(names):
            rows_per_day[position] += int(row.n or 0)
            continue
        name = names[row.feature]
        slot = _slot_of(row, binning.numeric.get(name), slots.get(name))
        if slot is None:
            continue
        for index, metric in enumerate(RESIDUAL_METRICS):
            arrays[name][index, position, slot] += float(row._mapping[metric] or 0.0)
    profiles = {
        name: FeatureResiduals(
            column=name,
            edges=binning.numeric[name].edges if name in binning.numeric else (),
            categories=tuple(slots.get(name, ())),
            daily={
                metric: tuple(tuple(float(v) for v in day) for day in array[index])
                for index, metric in enumerate(RESIDUAL_METRICS)
            },
        )
        for name, array in arrays.items()
    }
    return ResidualProfile(window, tuple(days), profiles, tuple(int(count) for count in rows_per_day))


def _slot_of(row: Any, edges: NumericEdges | None, categories: list[str] | None) -> int | None:
    """The slot of a numeric feature's bucket or a categorical feature's key; None for a NULL numeric value."""
    if edges is not None:
        bucket = int(row.bucket)
        return None if bucket == NULL_BUCKET else min(max(bucket + 1, 0), edges.slots - 1)
    assert categories is not None
    return categories.index(row.category) if row.category in categories else categories.index(OTHER)


def split_residual_days(profile: ResidualProfile) -> list[ResidualProfile]:
    """One residual profile per day span of `profile`'s window."""
    return [
        ResidualProfile(
            span,
            (profile.days[index],),
            {
                name: replace(
                    feature, daily={metric: (days[index],) for metric, days in feature.daily.items()}
                )
                for name, feature in profile.features.items()
            },
            (profile.daily_rows[index],),
        )
        for index, span in enumerate(day_spans(profile.window))
    ]


def merge_residual_days(window: TimeWindow, parts: list[ResidualProfile]) -> ResidualProfile:
    """The residual profile of `window` from the profiles of its days, in order."""
    first = parts[0]
    return ResidualProfile(
        window,
        tuple(day for part in parts for day in part.days),
        {
            name: replace(
                feature,
                daily={
                    metric: tuple(day for part in parts for day in part.features[name].daily[metric])
                    for metric in feature.daily
                },
            )
            for name, feature in first.features.items()
        },
        tuple(rows for part in parts for rows in part.daily_rows),
    )
