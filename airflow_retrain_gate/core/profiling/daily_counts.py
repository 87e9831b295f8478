"""Per-day counters of simple tables: manual overrides and training signals."""

from __future__ import annotations

from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.sql.expression import ColumnElement

from airflow_retrain_gate.core.policy import OverridesTable, TrainingSignalsTable
from airflow_retrain_gate.core.profiling.profiles import DailyCounts
from airflow_retrain_gate.core.profiling.queries import day_key
from airflow_retrain_gate.core.profiling.table_source import TableSource
from airflow_retrain_gate.core.sql import day_of
from airflow_retrain_gate.core.timeframes import TimeWindow


def _count_when(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return sa.func.sum(sa.case((condition, 1), else_=0))


def _daily_counts(
    source: TableSource, window: TimeWindow, counters: dict[str, ColumnElement[Any]]
) -> DailyCounts:
    window = source.window_of("timestamp", window)
    timestamp = source.column("timestamp")
    day = day_of(timestamp)
    query = (
        sa.select(
            day.label("day"),
            sa.func.count().label("rows"),
            *[value.label(name) for name, value in counters.items()],
        )
        .select_from(source.clause)
        .where(*source.in_window("timestamp", window))
        .group_by(day)
    )
    rows = source.warehouse.fetch(
        query, f"profile {source.mapping.table} {window.name}: daily counts", (source.scan(window),)
    )
    days = [day.isoformat() for day in window.days()]
    index = {day: position for position, day in enumerate(days)}
    totals = {name: np.zeros(len(days), dtype=np.int64) for name in ("rows", *counters)}
    for row in rows:
        position = index.get(day_key(row.day))
        if position is None:
            continue
        for name in totals:
            totals[name][position] = int(getattr(row, name) or 0)
    return DailyCounts(
        table=source.info.qualified_name,
        window=window,
        days=tuple(days),
        rows=tuple(int(value) for value in totals.pop("rows")),
        counters={name: tuple(int(value) for value in values) for name, values in totals.items()},
    )


def profile_overrides(source: TableSource, window: TimeWindow) -> DailyCounts:
    """Rows and manual overrides per day."""
    mapping: OverridesTable = source.mapping  # type: ignore[assignment]
    flag = source.number("flag", mapping.flag)
    return _daily_counts(
        source, window, {"flag_known": sa.func.count(flag), "flagged": _count_when(flag != 0)}
    )


def profile_training_signals(source: TableSource, window: TimeWindow) -> DailyCounts:
    """Rows per day, with inactive users, experiment-arm rows and incomplete feedback counted."""
    mapping: TrainingSignalsTable = source.mapping  # type: ignore[assignment]
    counters: dict[str, ColumnElement[Any]] = {}
    if mapping.active:
        active = source.number("active", mapping.active)
        counters.update(active_known=sa.func.count(active), inactive=_count_when(active == 0))
    if mapping.experiment_arm:
        arm = source.column("experiment_arm")
        in_experiment = arm.is_not(None) & (sa.cast(arm, sa.String) != mapping.control_arm)
        counters.update(arm_known=sa.func.count(arm), experiment=_count_when(in_experiment))
    if mapping.feedback_complete:
        complete = source.number("feedback_complete", mapping.feedback_complete)
        counters.update(feedback_known=sa.func.count(complete), incomplete=_count_when(complete == 0))
    return _daily_counts(source, window, counters)
