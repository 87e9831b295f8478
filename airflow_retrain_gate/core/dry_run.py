"""A dry run of a policy against a warehouse: every mapped table and column reflected, types checked against
their roles, and rows per day counted in the warehouse for each window, without running a check."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from airflow_retrain_gate.core.feature_roles import MappedColumn
from airflow_retrain_gate.core.gate import resolve_windows
from airflow_retrain_gate.core.policy import Policy, TableMapping
from airflow_retrain_gate.core.profiling.queries import day_key
from airflow_retrain_gate.core.profiling.table_schema import MappingError
from airflow_retrain_gate.core.profiling.table_source import TableSource
from airflow_retrain_gate.core.sql import day_of
from airflow_retrain_gate.core.timeframes import TimeWindow
from airflow_retrain_gate.core.warehouse import Warehouse, WarehouseError
from airflow_retrain_gate.core.wording import first_few, plural

FIELD_ROLES = {
    "timestamp": "timestamp",
    "label_timestamp": "timestamp",
    "starts_at": "timestamp",
    "ends_at": "timestamp",
    "numeric": "numeric",
    "score": "numeric",
    "label": "numeric",
    "proxy": "numeric",
    "engagement": "numeric",
    "flag": "numeric",
    "active": "numeric",
    "feedback_complete": "numeric",
}
"""The role of each mapping field whose column needs a kind of type (feature_roles.ROLE_KINDS); others take any."""
TIME_FIELDS = {"outcomes": "label_timestamp", "events": "starts_at"}
"""The field that places a table's rows in a window, where it is not `timestamp`."""
SPARSE_SECTIONS = {"tables.events"}
"""Tables whose days are rightly empty (a campaign starts on few days): their rows are counted, not their days."""


def judged_days(window: TimeWindow) -> list[date]:
    """The UTC days that lie at least half in `window`: a day it touches for an hour at an edge is not called
    empty."""
    return [day for day in window.days() if window.day_coverage(day) >= 0.5]


class Level(StrEnum):
    """How much a line of the dry run matters: an error fails it (exit code 1), a warning or note does not."""

    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


@dataclass(frozen=True)
class Problem:
    """One thing the dry run found, naming the policy field it is about."""

    level: Level
    field: str
    message: str


@dataclass(frozen=True)
class WindowRows:
    """Rows of a table in one window (after its filters), and the UTC days of the window that have none."""

    window: TimeWindow
    rows: int
    empty_days: tuple[date, ...] | None
    """None for a table whose days may rightly be empty (events)."""

    def summary(self) -> str:
        """``reference window: 3 of 28 days are empty (2024-04-02, ...); 41,310 rows``."""
        days = len(judged_days(self.window))
        if self.empty_days is None:
            return f"{self.window.name} window: {plural(self.rows, 'row')}"
        if not self.empty_days:
            return f"{self.window.name} window: {plural(self.rows, 'row')}, every one of its {days} days has rows"
        listed = first_few([day.isoformat() for day in self.empty_days])
        verb = "is" if len(self.empty_days) == 1 else "are"
        return (
            f"{self.window.name} window: {len(self.empty_days)} of {days} days {verb} empty "
            f"({listed}); {plural(self.rows, 'row')}"
        )


@dataclass(frozen=True)
class TableReport:
    """What the dry run found for one mapped table."""

    section: str
    """The policy path of the mapping, e.g. ``tables.features``."""
    table: str
    """The table as the policy names it, with its filters."""
    columns: int
    """How many mapped columns exist with a type that fits their role."""
    windows: tuple[WindowRows, ...]
    problems: tuple[Problem, ...]


@dataclass(frozen=True)
class DryRun:
    """The dry run of a policy at `as_of`: one report per mapped table."""

    policy: Policy
    as_of: datetime
    windows: tuple[TimeWindow, TimeWindow]
    tables: tuple[TableReport, ...]

    @property
    def problems(self) -> list[Problem]:
        """Every problem of every table, in policy order."""
        return [problem for table in self.tables for problem in table.problems]

    @property
    def failed(self) -> bool:
        """Whether a table, column, type or filter of the mapping is wrong."""
        return any(problem.level is Level.ERROR for problem in self.problems)

    def render(self) -> str:
        """Plain text, one line per table, window and problem."""
        spans = ", ".join(
            f"{window.name} {window.start.isoformat()} .. {window.end.isoformat()}" for window in self.windows
        )
        lines = [f"policy {self.policy.name!r} at as_of {self.as_of.isoformat()}: {spans}"]
        for table in self.tables:
            lines.append(f"{table.section}: {table.table} ({table.columns} mapped columns fit their roles)")
            lines += [f"  {rows.summary()}" for rows in table.windows]
            lines += [
                f"  {problem.level.value}: {problem.field}: {problem.message}" for problem in table.problems
            ]
        counts = {level: sum(problem.level is level for problem in self.problems) for level in Level}
        lines.append(
            f"{plural(counts[Level.ERROR], 'error')}, {plural(counts[Level.WARNING], 'warning')}: "
            + ("the mapping needs fixing" if self.failed else "the mapping is usable")
        )
        return "\n".join(lines)


def dry_run(policy: Policy, warehouse: Warehouse, as_of: datetime) -> DryRun:
    """Reflect every table the policy maps and count its rows per day in each window, reporting every problem.

    With a label delay, predictions are also counted in the windows whose outcomes are judged.
    A warehouse that cannot be reached raises WarehouseError; a missing table or column is a problem of its table.
    """
    warehouse.use_settings(policy.warehouse)
    windows = resolve_windows(policy, as_of)
    judged = tuple(
        replace(window, name=f"outcomes {window.name}") for window in policy.windows.outcome_windows(*windows)
    )
    reports = [
        _table_report(
            warehouse,
            mapping,
            f"tables.{name}",
            windows,
            judged if name == "predictions" and policy.windows.label_delay else (),
        )
        for name in type(policy.tables).model_fields
        if (mapping := getattr(policy.tables, name)) is not None
    ]
    warehouse.release()
    return DryRun(policy, as_of, windows, tuple(reports))


def _table_report(
    warehouse: Warehouse,
    mapping: TableMapping,
    section: str,
    windows: tuple[TimeWindow, TimeWindow],
    judged: tuple[TimeWindow, ...],
) -> TableReport:
    try:
        info = warehouse.describe(mapping.table, f"{section}.table")
    except MappingError as error:
        return TableReport(
            section, mapping.subject, 0, (), (Problem(Level.ERROR, error.field_path, _detail(error)),)
        )
    problems = []
    fitting = 0
    for field, name in mapping.mapped_columns().items():
        mapped = MappedColumn(
            f"{section}.{field}", FIELD_ROLES.get(re.sub(r"\[\d+\]$", "", field), "any"), name
        )
        try:
            column = info.column(mapped.field, name)
        except MappingError as error:
            problems.append(Problem(Level.ERROR, mapped.field, _detail(error)))
            continue
        if needed := mapped.misfit(column):
            problems.append(
                Problem(
                    Level.ERROR,
                    mapped.field,
                    f"column {column.name!r} of table {info.qualified_name!r} has type {column.sql_type}; "
                    f"the policy uses it as {needed}",
                )
            )
        else:
            fitting += 1
    if problems:
        problems.append(Problem(Level.NOTE, section, "rows not counted until the columns above are fixed"))
        return TableReport(section, mapping.subject, fitting, (), tuple(problems))
    source = TableSource.bind(warehouse, mapping, section)
    time_field = TIME_FIELDS.get(section.removeprefix("tables."), "timestamp")
    daily = section not in SPARSE_SECTIONS
    rows, filter_problems = _count_rows(source, time_field, windows, daily=daily)
    if judged:  # a separate query: the judged windows overlap the others
        rows += _count_rows(source, time_field, judged, daily=daily)[0]
    problems += filter_problems
    for window_rows in rows:
        if window_rows.rows == 0 and window_rows.empty_days is not None and not filter_problems:
            problems.append(
                Problem(Level.WARNING, section, f"no rows in the {window_rows.window.name} window")
            )
    return TableReport(section, mapping.subject, fitting, rows, tuple(problems))


def _count_rows(
    source: TableSource, time_field: str, policy_windows: tuple[TimeWindow, ...], *, daily: bool
) -> tuple[tuple[WindowRows, ...], list[Problem]]:
    """One GROUP BY query: rows per window and day, overall, after each filter alone and after all filters.

    On a DATE column a window selects whole days, as in the gate."""
    windows = tuple(source.window_of(time_field, window) for window in policy_windows)
    bounds = {
        window.name: sa.and_(
            source.column(time_field) >= source.instant(time_field, window.start),
            source.column(time_field) < source.instant(time_field, window.end),
        )
        for window in windows
    }
    filters = source.filters()
    flags: dict[str, Any] = {
        f"filter{index}": sa.case((predicate, 1), else_=0) for index, predicate in enumerate(filters)
    }
    flags["selected"] = sa.case((sa.and_(sa.true(), *filters), 1), else_=0)
    # Window and day in a subquery: a GROUP BY on expressions holding bound parameters is refused by PostgreSQL.
    inner = (
        sa.select(
            sa.case(*((bound, name) for name, bound in bounds.items())).label("window_name"),
            day_of(source.column(time_field)).label("day"),
            *(value.label(name) for name, value in flags.items()),
        )
        .select_from(source.clause)
        .where(sa.or_(*bounds.values()))
        .subquery()
    )
    query = sa.select(
        inner.c.window_name,
        inner.c.day,
        sa.func.count().label("all_rows"),
        *(sa.func.sum(inner.c[name]).label(name) for name in flags),
    ).group_by(inner.c.window_name, inner.c.day)
    result = source.warehouse.fetch(query, f"dry run {source.mapping.table}: rows per day and window")
    selected: dict[str, dict[str, int]] = {window.name: {} for window in windows}
    totals = {name: 0 for name in ("all_rows", *flags)}
    for row in result:
        selected[row.window_name][day_key(row.day)] = int(row.selected or 0)
        for name in totals:
            totals[name] += int(getattr(row, name) or 0)
    counts = tuple(
        WindowRows(
            window,
            sum(selected[window.name].values()),
            tuple(day for day in judged_days(window) if not selected[window.name].get(day.isoformat()))
            if daily
            else None,
        )
        for window in windows
    )
    return counts, _filter_problems(source, totals)


def _filter_problems(source: TableSource, totals: dict[str, int]) -> list[Problem]:
    """Filters that select no row of the windows, each alone, or together when each selects some."""
    if not source.mapping.filters or totals["selected"] or not totals["all_rows"]:
        return []
    there = f"the windows hold {totals['all_rows']:,} rows of {source.info.qualified_name} without filters"
    problems = [
        Problem(
            Level.ERROR,
            f"{source.section}.filters.{column}",
            f"{column} {'IN' if isinstance(value, list) else '='} {value!r} selects no row ({there})",
        )
        for index, (column, value) in enumerate(source.mapping.filters.items())
        if not totals[f"filter{index}"]
    ]
    return problems or [
        Problem(Level.ERROR, f"{source.section}.filters", f"the filters together select no row ({there})")
    ]


def _detail(error: MappingError) -> str:
    """The message of a MappingError without the field path it starts with."""
    return str(error).removeprefix(f"{error.field_path}: ")


def read_access_problems(policy: Policy, warehouse: Warehouse) -> list[str]:
    """What stops this warehouse role reading each table the policy maps: a missing table or a refused SELECT.

    Each table gets a query that returns no row, so nothing is scanned.
    """
    problems = []
    for name in type(policy.tables).model_fields:
        if (mapping := getattr(policy.tables, name)) is None:
            continue
        field = f"tables.{name}.table"
        try:
            info = warehouse.describe(mapping.table, field)
        except MappingError as error:
            problems.append(str(error))
            continue
        try:
            warehouse.fetch(
                sa.select(sa.literal(1)).select_from(info.clause([])).where(sa.false()),
                f"SELECT on {info.qualified_name}",
            )
        except WarehouseError as error:
            problems.append(f"{field}: {error}")
    return problems
