"""Profiles the policy's version columns (prompt_version, app_version ...): per day and value, rows and the sums of
matured labels, the proxy and the score, computed in the warehouse with GROUP BY day and value."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.sql.expression import ColumnElement

from airflow_retrain_gate.core.policy import Tables
from airflow_retrain_gate.core.profiling.outcomes import join_outcomes
from airflow_retrain_gate.core.profiling.profiles import (
    MISSING,
    OTHER,
    VERSION_METRICS,
    VersionCounts,
    VersionProfile,
)
from airflow_retrain_gate.core.profiling.queries import (
    TopValuesQuery,
    category_key,
    day_key,
    grouped,
    window_rows,
)
from airflow_retrain_gate.core.profiling.table_source import TableSource
from airflow_retrain_gate.core.scans import Scan
from airflow_retrain_gate.core.sql import day_of, within_safe_magnitude
from airflow_retrain_gate.core.timeframes import TimeWindow
from airflow_retrain_gate.core.warehouse import Warehouse

MAX_VERSION_VALUES = 20
"""The most values of one version column tracked per window; the rest count as OTHER."""


def versioned_tables(tables: Tables) -> list[str]:
    """The roles of the tables (features, predictions, outcomes) that map version columns."""
    return [
        role
        for role in ("features", "predictions", "outcomes")
        if getattr(getattr(tables, role), "versions", None)
    ]


def versioned_columns(source: TableSource | None) -> list[tuple[str, str]]:
    """(policy path, column) of every version column a bound table maps."""
    if source is None:
        return []
    versions: list[str] = getattr(source.mapping, "versions", [])
    return [(f"{source.section}.versions[{index}]", column) for index, column in enumerate(versions)]


def profile_versions(
    features: TableSource | None,
    predictions: TableSource | None,
    outcomes: TableSource,
    window: TimeWindow,
    as_of: datetime,
) -> VersionProfile:
    """Sums per day of the predictions made in `window` joined to their outcomes known by `as_of`, overall and by
    value of each version column of the predictions and outcomes tables; rows per day and value of each version
    column of the features table."""
    warehouse = outcomes.warehouse
    window = (
        predictions.window_of("timestamp", window)
        if predictions is not None
        else outcomes.window_of("label_timestamp", window)
    )
    days = [day.isoformat() for day in window.days()]
    joined = join_outcomes(predictions, outcomes, window, as_of)
    mapped = [
        (field, source.named(column, field.removeprefix(f"{source.section}.")), column)
        for source in (predictions, outcomes)
        if source is not None
        for field, column in versioned_columns(source)
    ]
    values: dict[str, ColumnElement[Any]] = {
        "day": day_of(joined.timestamp),
        "label": within_safe_magnitude(sa.case((joined.known, joined.label))),
    }
    for name, value in (("proxy", joined.proxy), ("score", joined.score)):
        if value is not None:
            values[name] = within_safe_magnitude(value)
    values.update({f"v{index}": column for index, (_, column, _) in enumerate(mapped)})
    rows = window_rows(joined.source, joined.where, values, warehouse.dialect)
    zero = sa.literal(0.0, sa.Double)
    measures: list[sa.Label[Any]] = [sa.func.count().label("n")]
    for name in ("label", "proxy", "score"):
        value = rows.c[name] if name in values else None
        measures += [
            (sa.func.count(value) if value is not None else zero).label(f"{name}_n"),
            (sa.func.sum(value) if value is not None else zero).label(f"{name}_sum"),
            (sa.func.sum(value * value) if value is not None else zero).label(f"{name}_sq"),
        ]
    purpose = f"profile versions {window.name}"
    overall, joined_columns = _daily_by_value(
        warehouse,
        rows,
        joined.scans,
        [(field, column) for field, _, column in mapped],
        measures,
        days,
        purpose,
    )
    columns = list(joined_columns)
    features_columns = versioned_columns(features)
    if features is not None and features_columns:
        feature_rows = window_rows(
            features.clause,
            features.in_window("timestamp", features.window_of("timestamp", window)),
            {
                "day": day_of(features.column("timestamp")),
                **{
                    f"v{index}": features.named(column, field.removeprefix("tables.features."))
                    for index, (field, column) in enumerate(features_columns)
                },
            },
            warehouse.dialect,
        )
        _, feature_counts = _daily_by_value(
            warehouse,
            feature_rows,
            (features.scan(window),),
            features_columns,
            [sa.func.count().label("n")],
            days,
            f"profile versions of {features.mapping.table} {window.name}",
        )
        columns += feature_counts
    return VersionProfile(window=window, days=tuple(days), overall=overall, columns=tuple(columns))


def _daily_by_value(
    warehouse: Warehouse,
    rows: sa.Subquery,
    scans: tuple[Scan, ...],
    columns: list[tuple[str, str]],
    measures: list[sa.Label[Any]],
    days: list[str],
    purpose: str,
) -> tuple[dict[str, tuple[float, ...]], list[VersionCounts]]:
    """The `measures` per day over `rows`, and per day and tracked value of each column ``v<index>`` of `rows`
    (`columns` gives each one's policy path and name); the queries read `scans`, in one statement of GROUPING SETS or UNION ALL."""
    tracked: list[list[str]] = [[] for _ in columns]
    if columns:
        top = TopValuesQuery.build(
            rows,
            [rows.c[f"v{index}"] for index in range(len(columns))],
            MAX_VERSION_VALUES,
            warehouse.supports_grouping_sets,
        )
        ranked = top.decode(warehouse.fetch(top.statement, purpose + ": top values", scans))
        for index, counted in ranked.values.items():
            tracked[index] = [value for value, _ in counted if value != MISSING]
    keys: dict[str, ColumnElement[Any]] = {"day": rows.c.day}
    keys.update(
        {f"v{index}": category_key(rows.c[f"v{index}"], tracked[index]) for index in range(len(columns))}
    )
    sets = [("day",), *[("day", f"v{index}") for index in range(len(columns))]]
    query = grouped(rows, [], keys, sets, measures, warehouse.supports_grouping_sets)
    result = warehouse.fetch(query, purpose + ": by day", scans)
    metrics = [measure.key for measure in measures]
    day_index = {day: index for index, day in enumerate(days)}
    slots = [[*values, OTHER, MISSING] for values in tracked]
    overall = {name: np.zeros(len(days)) for name in metrics}
    by_value = [{name: np.zeros((len(days), len(slot))) for name in metrics} for slot in slots]
    for row in result:
        values = row._mapping
        position = day_index.get(day_key(values["day"])) if values["day"] is not None else None
        if position is None:
            continue
        column = next((index for index in range(len(columns)) if values[f"v{index}"] is not None), None)
        for name in metrics:
            amount = float(values[name] or 0.0)
            if column is None:
                overall[name][position] += amount
            else:
                slot = slots[column]
                key = str(values[f"v{column}"])
                by_value[column][name][position, slot.index(key) if key in slot else slot.index(OTHER)] += (
                    amount
                )
    return (
        {name: tuple(float(value) for value in overall[name]) for name in VERSION_METRICS if name in overall},
        [
            VersionCounts(
                field=field,
                column=column,
                values=tuple(slots[index]),
                sums={
                    name: tuple(tuple(float(value) for value in day) for day in by_value[index][name])
                    for name in metrics
                },
            )
            for index, (field, column) in enumerate(columns)
        ],
    )
