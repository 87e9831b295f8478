"""Portable SQL expressions compiled per dialect (day buckets, floor, variance)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import BindParameter, ColumnElement, FunctionElement

MAX_DOUBLE = 1.7976931348623157e308
"""The largest finite double: NaN and infinities lie outside [-MAX_DOUBLE, MAX_DOUBLE] on every dialect."""
SAFE_MAGNITUDE = 1e120
"""The largest magnitude that enters sums of squares: 1e60 rows of squares up to 1e240 stay finite, so no
dialect's AVG or VAR_POP overflows (PostgreSQL raises, DuckDB returns inf). No real measurement comes near it."""
# DuckDB has GROUPING SETS, but materialises the window's rows to feed them (gigabytes at 100M rows);
# a UNION ALL of plain GROUP BYs streams instead, and its columnar scans cost little more.
GROUPING_SETS_DIALECTS = {
    "awsathena",
    "postgresql",
    "snowflake",
    "bigquery",
    "trino",
    "redshift",
    "databricks",
    "mssql",
    "spark",
}


class day_of(FunctionElement[Any]):
    """The UTC calendar day of a timestamp."""

    type = sa.Date()
    inherit_cache = True


@compiles(day_of)
def _day_default(element: day_of, compiler: Any, **kw: Any) -> str:
    return f"CAST({compiler.process(element.clauses, **kw)} AS DATE)"


@compiles(day_of, "sqlite")
def _day_sqlite(element: day_of, compiler: Any, **kw: Any) -> str:
    return f"date({compiler.process(element.clauses, **kw)})"


@compiles(day_of, "bigquery")
def _day_bigquery(element: day_of, compiler: Any, **kw: Any) -> str:
    return f"DATE({compiler.process(element.clauses, **kw)})"


@compiles(BindParameter, "trino")
@compiles(BindParameter, "bigquery")
def _temporal_literal(element: BindParameter[Any], compiler: Any, **kw: Any) -> str:
    """Inlined (literal_binds) dates and times as typed literals: Trino compares no timestamp with a string,
    BigQuery no TIMESTAMP with the DATETIME literal its dialect writes for every DateTime."""
    value = element.effective_value
    if not kw.get("literal_binds") or not isinstance(value, date):
        return compiler.visit_bindparam(element, **kw)
    if not isinstance(value, datetime):
        return f"DATE '{value.isoformat()}'"
    if value.tzinfo is None:
        kind = "TIMESTAMP" if compiler.dialect.name == "trino" else "DATETIME"
        return f"{kind} '{value.isoformat(sep=' ')}'"
    return f"TIMESTAMP '{value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=' ')} UTC'"


@compiles(sa.DateTime, "bigquery")
def _datetime_bigquery(element: sa.DateTime, compiler: Any, **kw: Any) -> str:
    # BigQuery's TIMESTAMP is an instant and its DATETIME a civil time; neither compares with the other, and
    # sqlalchemy-bigquery types every DateTime parameter DATETIME, so a TIMESTAMP column's bounds failed.
    return "TIMESTAMP" if element.timezone else "DATETIME"


class equal_width_bucket(FunctionElement[Any]):
    """The bin of a double among `bins` equal-width bins over [low, high): -2 for NULL, -1 below, `bins` above."""

    type = sa.Integer()
    inherit_cache = True

    def __init__(self, value: ColumnElement[Any], low: float, high: float, bins: int) -> None:
        super().__init__(
            value,
            sa.literal(low, sa.Double),
            sa.literal(high, sa.Double),
            sa.literal(bins, sa.Integer),
            sa.literal((high - low) / bins, sa.Double),
        )


@compiles(equal_width_bucket)
def _bucket_default(element: equal_width_bucket, compiler: Any, **kw: Any) -> str:
    value, low, high, bins, width = (compiler.process(clause, **kw) for clause in element.clauses)
    offset = f"({value} - {low}) / {width}"
    # SQLite's CAST truncates toward zero, which is floor for the non-negative offsets that reach it.
    floor = (
        f"CAST({offset} AS INTEGER)"
        if compiler.dialect.name == "sqlite"
        else f"CAST(FLOOR({offset}) AS INTEGER)"
    )
    return f"CASE WHEN {value} IS NULL THEN -2 WHEN {value} < {low} THEN -1 WHEN {value} >= {high} THEN {bins} ELSE {floor} END"


@compiles(equal_width_bucket, "postgresql")
def _bucket_postgresql(element: equal_width_bucket, compiler: Any, **kw: Any) -> str:
    value, low, high, bins, _ = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"COALESCE(width_bucket({value}, {low}, {high}, {bins}) - 1, -2)"


class population_variance(FunctionElement[Any]):
    """The population variance of a numeric expression."""

    type = sa.Double()
    inherit_cache = True


@compiles(population_variance)
def _var_default(element: population_variance, compiler: Any, **kw: Any) -> str:
    return f"VAR_POP({compiler.process(element.clauses, **kw)})"


@compiles(population_variance, "sqlite")
def _var_sqlite(element: population_variance, compiler: Any, **kw: Any) -> str:
    value = compiler.process(element.clauses, **kw)
    return f"(AVG(({value}) * ({value})) - AVG({value}) * AVG({value}))"


def as_number(column: ColumnElement[Any], kind: str) -> ColumnElement[Any]:
    """A column as a double: booleans become 1/0, integers are widened so sums cannot overflow.

    NaN and infinities become NULL (missing), so one bad value cannot turn every aggregate into NaN.
    """
    if kind == "boolean":
        return sa.case((column.is_(None), sa.null()), (column, 1.0), else_=0.0)
    number = sa.cast(column, sa.Double)
    return sa.case((number.between(-MAX_DOUBLE, MAX_DOUBLE), number), else_=sa.null())


def within_safe_magnitude(number: ColumnElement[Any]) -> ColumnElement[Any]:
    """A double column where |value| <= SAFE_MAGNITUDE, else NULL: the values means and spreads are taken over."""
    return sa.case((number.between(-SAFE_MAGNITUDE, SAFE_MAGNITUDE), number), else_=sa.null())
