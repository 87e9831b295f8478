"""Profiles the residuals (label - score) of matured predictions by reference bin of each feature, per day.

Each prediction joins the features row of its entity on the same (UTC) day; only the residual sums, their squares
and the counts per day x bin leave the warehouse.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.sql.expression import ColumnElement
from sqlalchemy.sql.util import ClauseAdapter

from airflow_retrain_gate.core.feature_profiler import FeatureBinning, day_key
from airflow_retrain_gate.core.outcome_profiler import join_outcomes, outcome_scans
from airflow_retrain_gate.core.policy import FeaturesTable
from airflow_retrain_gate.core.profile_queries import NULL_BUCKET, category_key, grouped, window_rows
from airflow_retrain_gate.core.profiles import (
    MISSING,
    OTHER,
    RESIDUAL_METRICS,
    FeatureResiduals,
    ResidualProfile,
)
from airflow_retrain_gate.core.sources import TableSource
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
    scored_on = sa.and_(
        on_side(features.column("entity")) == predictions.column("entity"),
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
    keys: dict[str, ColumnElement[Any]] = {"day": rows.c.day}
    keys.update({f"b{i}": binning.numeric[name].bucket(rows.c[f"v{i}"]) for i, name in enumerate(numeric)})
    keys.update(
        {
            f"c{i}": category_key(rows.c[f"c{i}"], binning.categories[name])
            for i, name in enumerate(categorical)
        }
    )
    residual = rows.c.residual
    measures = [
        sa.func.count(residual).label("n"),
        sa.func.sum(residual).label("residual_sum"),
        sa.func.sum(residual * residual).label("residual_sq"),
    ]
    sets = [("day",), *[("day", key) for key in keys if key != "day"]]
    scans = (*outcome_scans(predictions, outcomes, window), features.scan(window))
    result = warehouse.fetch(
        grouped(rows, [], keys, sets, measures, warehouse.supports_grouping_sets),
        f"profile residuals by feature bin {window.name}",
        scans,
    )
    days = [day.isoformat() for day in window.days()]
    return _assemble(window, days, binning, numeric, categorical, result)


def _assemble(
    window: TimeWindow,
    days: list[str],
    binning: FeatureBinning,
    numeric: list[str],
    categorical: list[str],
    result: list[Any],
) -> ResidualProfile:
    """Decode the grouped rows (day + one feature's bin each) into per-feature [metric][day][slot] arrays."""
    day_index = {day: index for index, day in enumerate(days)}
    slots = {name: [*binning.categories[name], OTHER, MISSING] for name in categorical}
    arrays = {
        name: np.zeros((len(RESIDUAL_METRICS), len(days), binning.numeric[name].slots)) for name in numeric
    }
    arrays.update(
        {name: np.zeros((len(RESIDUAL_METRICS), len(days), len(slots[name]))) for name in categorical}
    )
    rows_per_day = np.zeros(len(days), dtype=np.int64)
    for row in result:
        values = row._mapping
        position = day_index.get(day_key(values["day"])) if values["day"] is not None else None
        if position is None:
            continue
        located = _slot_of(values, binning, numeric, categorical, slots)
        if located is None:
            rows_per_day[position] += int(values["n"] or 0)
            continue
        name, slot = located
        if slot is None:
            continue
        for index, metric in enumerate(RESIDUAL_METRICS):
            arrays[name][index, position, slot] += float(values[metric] or 0.0)
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


def _slot_of(
    values: Any,
    binning: FeatureBinning,
    numeric: list[str],
    categorical: list[str],
    slots: dict[str, list[str]],
) -> tuple[str, int | None] | None:
    """The feature a grouped row belongs to and its slot (None for a NULL numeric value, which has no bin); None
    for a row of the (day) grouping set, which counts every joined row."""
    for index, name in enumerate(numeric):
        bucket = values.get(f"b{index}")
        if bucket is not None:
            if int(bucket) == NULL_BUCKET:
                return name, None
            return name, min(max(int(bucket) + 1, 0), binning.numeric[name].slots - 1)
    for index, name in enumerate(categorical):
        key = values.get(f"c{index}")
        if key is not None:
            return name, slots[name].index(key) if key in slots[name] else slots[name].index(OTHER)
    return None
