"""SQLAlchemy Core queries that compute profiles in the warehouse; each returns a bounded number of rows.

Several GROUP BY sets are computed in one scan with GROUPING SETS where the dialect has them, else
with UNION ALL. Key columns use sentinels for NULL values (bucket -2, MISSING) so that, in a result
row, exactly the keys of its own grouping set are non-null.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.sql.expression import ColumnElement

from airflow_retrain_gate.core.profiling.profiles import MISSING, OTHER
from airflow_retrain_gate.core.sql import approx_distinct, equal_width_bucket, population_variance

NULL_BUCKET = -2
UNDERFLOW_BUCKET = -1


@dataclass(frozen=True)
class NumericEdges:
    """Equal-width fine bins over [low, high], derived from the reference window; low == high is one value."""

    low: float
    high: float
    bins: int

    @classmethod
    def from_range(
        cls, minimum: float | None, maximum: float | None, mean: float, std: float, bins: int
    ) -> NumericEdges:
        """Edges over the reference range, trimmed to mean +/- 6 std so one outlier cannot squash every bin."""
        if minimum is None or maximum is None or not np.isfinite([minimum, maximum, mean, std]).all():
            return cls(0.0, 0.0, 1)
        low = max(minimum, mean - 6 * std) if std > 0 else minimum
        high = min(maximum, mean + 6 * std) if std > 0 else maximum
        if high <= low:
            return cls(float(low), float(low), 1)
        return cls(float(low), float(high), bins)

    @property
    def edges(self) -> tuple[float, ...]:
        """The bin boundaries low..high."""
        if self.high == self.low:
            return (self.low, self.high)
        return tuple(float(edge) for edge in np.linspace(self.low, self.high, self.bins + 1))

    @property
    def slots(self) -> int:
        """Histogram length: underflow + fine bins + overflow."""
        return self.bins + 2

    def bucket(self, value: ColumnElement[Any]) -> ColumnElement[Any]:
        """SQL: the bucket index of `value` (-2 null, -1 underflow, 0..bins-1, bins overflow)."""
        if self.high == self.low:
            low = sa.literal(self.low, sa.Double)
            return sa.case(
                (value.is_(None), NULL_BUCKET), (value < low, UNDERFLOW_BUCKET), (value > low, 1), else_=0
            )
        # The reference maximum belongs to the last fine bin: the upper bound is the next double above it.
        return equal_width_bucket(value, self.low, float(np.nextafter(self.high, np.inf)), self.bins)


def day_key(value: date | datetime | str) -> str:
    """A warehouse day value (date, timestamp or text) as an ISO date."""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)[:10]


def category_key(column: ColumnElement[Any], tracked: Sequence[str]) -> ColumnElement[Any]:
    """SQL: the value as text if tracked, OTHER if not, MISSING for NULL."""
    text = sa.cast(column, sa.String)
    if not tracked:
        return sa.case((column.is_(None), MISSING), else_=OTHER)
    return sa.case((column.is_(None), MISSING), (text.in_(list(tracked)), text), else_=OTHER)


def raw_key(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """SQL: the value as text, MISSING for NULL."""
    return sa.func.coalesce(sa.cast(column, sa.String), MISSING)


def window_rows(
    source: sa.FromClause,
    where: list[ColumnElement[bool]],
    columns: dict[str, ColumnElement[Any]],
    dialect: str,
) -> sa.Subquery:
    """The window's rows with every expression the profile needs computed once, as named columns.

    On PostgreSQL, OFFSET 0 keeps the planner from inlining the subquery, which would evaluate an
    expression again in each aggregate that reads it (it has no common-subexpression elimination);
    DuckDB eliminates common subexpressions itself, and a LIMIT there would only slow its pipeline.
    """
    selected = [expression.label(name) for name, expression in columns.items()]
    query = sa.select(*selected).select_from(source).where(*where)
    return (query.offset(0) if dialect == "postgresql" else query).subquery("window_rows")


def grouped(
    source: sa.FromClause,
    where: list[ColumnElement[bool]],
    keys: dict[str, ColumnElement[Any]],
    sets: list[tuple[str, ...]],
    measures: list[ColumnElement[Any]],
    grouping_sets: bool,
) -> sa.Select[Any] | sa.CompoundSelect[Any]:
    """Aggregate `measures` over several GROUP BY sets of named key expressions in one statement."""
    used = [name for name in keys if any(name in group for group in sets)]
    labelled = {name: keys[name].label(name) for name in used}
    if grouping_sets:
        clauses = [sa.tuple_(*[keys[name] for name in group]) for group in sets]
        return (
            sa.select(*labelled.values(), *measures)
            .select_from(source)
            .where(*where)
            .group_by(sa.func.grouping_sets(*clauses))
        )
    selects = []
    for group in sets:
        columns = [labelled[name] if name in group else _null_like(labelled[name]) for name in used]
        selects.append(
            sa.select(*columns, *measures)
            .select_from(source)
            .where(*where)
            .group_by(*[keys[name] for name in group])
        )
    return selects[0] if len(selects) == 1 else sa.union_all(*selects)


def summary_query(
    rows: sa.Subquery,
    numeric: list[tuple[ColumnElement[Any], ColumnElement[Any]]],
    categorical: list[ColumnElement[Any]],
    with_distinct: bool,
    one_read: bool = False,
) -> sa.Select[Any] | sa.CompoundSelect[Any]:
    """Per day: rows, first and last timestamp, moments and non-null counts; with approximate distinct counts,
    one more row (day NULL) holding each column's distinct count over the whole window. With `one_read` (a
    dialect with GROUPING SETS) that row comes from the same read of the window as the days.

    Each numeric column comes as (value, value within the safe magnitude): counts and ranges read the value,
    means and spreads the safe one, so that no sum of squares overflows."""
    daily: list[ColumnElement[Any]] = [
        sa.func.count().label("rows"),
        sa.func.min(rows.c.ts).label("min_ts"),
        sa.func.max(rows.c.ts).label("max_ts"),
    ]
    distinct: list[ColumnElement[Any]] = []
    for index, (value, safe) in enumerate(numeric):
        daily += [
            sa.func.count(value).label(f"n{index}"),
            sa.func.count(safe).label(f"k{index}"),
            sa.func.avg(safe).label(f"mean{index}"),
            population_variance(safe).label(f"var{index}"),
            sa.func.min(value).label(f"min{index}"),
            sa.func.max(value).label(f"max{index}"),
        ]
        distinct.append(approx_distinct(value).label(f"nd{index}"))
    for index, value in enumerate(categorical):
        daily.append(sa.func.count(value).label(f"c{index}"))
        distinct.append(approx_distinct(value).label(f"cd{index}"))
    per_day = sa.select(rows.c.day, *daily).select_from(rows).group_by(rows.c.day)
    if not with_distinct:
        return per_day
    if one_read:
        # Billed by bytes read, a second read of the window costs more than feeding each sketch twice.
        return (
            sa.select(rows.c.day, *daily, *distinct)
            .select_from(rows)
            .group_by(sa.func.grouping_sets(sa.tuple_(rows.c.day), sa.tuple_()))
        )
    # Two selects rather than GROUPING SETS ((day), ()): each row feeds the distinct sketches once, not once
    # per set, and no engine has to materialise the window to serve two sets.
    return sa.union_all(
        per_day.add_columns(*[_null_like(column) for column in distinct]),
        sa.select(
            _null_like(rows.c.day.label("day")), *[_null_like(column) for column in daily], *distinct
        ).select_from(rows),
    )


def _null_like(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """A typed NULL under the label of `column`: the other branch of a UNION ALL fills that column."""
    if isinstance(column.type, sa.types.NullType):
        return sa.null().label(column.key)
    return sa.cast(sa.null(), column.type).label(column.key)


def top_values_query(
    rows: sa.Subquery,
    columns: list[ColumnElement[Any]],
    top_k: int,
    grouping_sets: bool,
) -> sa.Select[Any]:
    """The `top_k` most frequent values of each column with their counts and the column's distinct count."""
    keys = {f"k{index}": raw_key(column) for index, column in enumerate(columns)}
    inner = grouped(
        rows, [], keys, [(name,) for name in keys], [sa.func.count().label("n")], grouping_sets
    ).subquery()
    column_index = sa.case(
        *[(inner.c[name].is_not(None), index) for index, name in enumerate(keys)], else_=-1
    )
    value = sa.func.coalesce(*[inner.c[name] for name in keys]) if len(keys) > 1 else inner.c["k0"]
    ranked = sa.select(
        column_index.label("col"),
        value.label("value"),
        inner.c.n,
        sa.func.row_number()
        .over(partition_by=column_index, order_by=(inner.c.n.desc(), value))
        .label("rank"),
        sa.func.count().over(partition_by=column_index).label("distinct_values"),
    ).subquery()
    return sa.select(ranked.c.col, ranked.c.value, ranked.c.n, ranked.c.distinct_values).where(
        ranked.c["rank"] <= top_k
    )
