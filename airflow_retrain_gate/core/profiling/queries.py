"""SQLAlchemy Core queries that compute profiles in the warehouse; each returns a bounded number of rows.

Several GROUP BY sets are computed in one scan with GROUPING SETS where the dialect has them, else
with UNION ALL. Key columns use sentinels for NULL values (bucket -2, MISSING) so that, in a result
row, exactly the keys of its own grouping set are non-null.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.sql.expression import ColumnElement

from airflow_retrain_gate.core.moments import Moments
from airflow_retrain_gate.core.profiling.narrowing import narrowed
from airflow_retrain_gate.core.profiling.profiles import MISSING, OTHER, merge_top_values
from airflow_retrain_gate.core.sql import equal_width_bucket, population_variance

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
    sets: Sequence[tuple[str, ...]],
    measures: Sequence[ColumnElement[Any]],
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
        # Each branch reads its own copy of a derived table, narrowed to its columns (see narrowing.py).
        branch_source, branch = narrowed(source, [*(keys[name] for name in group), *measures, *where])
        branch_keys = dict(zip(group, branch, strict=False))
        branch_measures, branch_where = (
            branch[len(group) : len(group) + len(measures)],
            branch[len(group) + len(measures) :],
        )
        columns = [
            branch_keys[name].label(name) if name in group else _null_like(labelled[name]) for name in used
        ]
        selects.append(
            sa.select(*columns, *branch_measures)
            .select_from(branch_source)
            .where(*branch_where)
            .group_by(*branch_keys.values())
        )
    return selects[0] if len(selects) == 1 else sa.union_all(*selects)


NUMERIC_MEASURES = ("n", "k", "mean", "var", "min", "max")
"""Per-day aggregates of a numeric column in a summary row: values, values within the safe magnitude, the safe
values' mean and variance, and the range of all values."""


@dataclass(frozen=True)
class NumericDay:
    """One numeric column's aggregates over one day, as the warehouse returned them."""

    count: int
    """Non-null values."""
    safe_count: int
    """Values within the safe magnitude; `mean` and `variance` are theirs."""
    mean: Any
    variance: Any
    minimum: Any
    maximum: Any


@dataclass(frozen=True)
class SummaryDay:
    """One day of a summary query: rows, first and last timestamp, and per column its aggregates."""

    day: Any
    """The warehouse's day value (date, timestamp or text; see `day_key`)."""
    rows: int
    min_ts: Any
    max_ts: Any
    numeric: tuple[NumericDay, ...]
    """Aligned with the summary's numeric columns."""
    categorical: tuple[int, ...]
    """Non-null values of each categorical column."""


@dataclass(frozen=True)
class SummaryQuery:
    """Per day: rows, first and last timestamp, moments and non-null counts of each column; `decode` reads back
    the labels `build` writes."""

    statement: sa.Select[Any]
    numeric_columns: int
    categorical_columns: int

    @classmethod
    def build(
        cls,
        rows: sa.Subquery,
        numeric: list[tuple[ColumnElement[Any], ColumnElement[Any]]],
        categorical: list[ColumnElement[Any]],
    ) -> SummaryQuery:
        """The summary of `rows` (a `window_rows` subquery with ``day`` and ``ts``), in one read of them.

        Each numeric column comes as (value, value within the safe magnitude): counts and ranges read the value,
        means and spreads the safe one, so that no sum of squares overflows."""
        daily: list[ColumnElement[Any]] = [
            sa.func.count().label("rows"),
            sa.func.min(rows.c.ts).label("min_ts"),
            sa.func.max(rows.c.ts).label("max_ts"),
        ]
        for index, (value, safe) in enumerate(numeric):
            measures = (
                sa.func.count(value),
                sa.func.count(safe),
                sa.func.avg(safe),
                population_variance(safe),
                sa.func.min(value),
                sa.func.max(value),
            )
            daily += [
                measure.label(cls._label(name, index))
                for name, measure in zip(NUMERIC_MEASURES, measures, strict=True)
            ]
        daily += [
            sa.func.count(value).label(cls._label("c", index)) for index, value in enumerate(categorical)
        ]
        return cls(
            sa.select(rows.c.day, *daily).select_from(rows).group_by(rows.c.day),
            len(numeric),
            len(categorical),
        )

    @staticmethod
    def _label(measure: str, index: int) -> str:
        """The result column of `measure` of the column at `index` (``mean3``, ``c0`` ...)."""
        return f"{measure}{index}"

    def decode(self, rows: Sequence[Any]) -> tuple[SummaryDay, ...]:
        """The days of the result rows."""
        numeric, categorical = range(self.numeric_columns), range(self.categorical_columns)
        days = []
        for row in rows:
            values = row._mapping
            days.append(
                SummaryDay(
                    day=values["day"],
                    rows=int(values["rows"]),
                    min_ts=values["min_ts"],
                    max_ts=values["max_ts"],
                    numeric=tuple(
                        NumericDay(
                            *(int(values[self._label(name, index)] or 0) for name in ("n", "k")),
                            *(values[self._label(name, index)] for name in ("mean", "var", "min", "max")),
                        )
                        for index in numeric
                    ),
                    categorical=tuple(int(values[self._label("c", index)] or 0) for index in categorical),
                )
            )
        return tuple(days)


@dataclass(frozen=True)
class LogMagnitudeQuery:
    """Per day: the count and mean of ln|x| over each column's non-zero values; `decode` reads back the labels
    `build` writes."""

    statement: sa.Select[Any]
    columns: int

    @classmethod
    def build(cls, rows: sa.Subquery, safe: list[ColumnElement[Any]]) -> LogMagnitudeQuery:
        """The log-magnitudes of the `safe` values (within the safe magnitude) of `rows`, in one read of them."""
        measures: list[ColumnElement[Any]] = []
        for index, value in enumerate(safe):
            log_magnitude = sa.case((value != 0, sa.func.ln(sa.func.abs(value))))
            measures += [
                sa.func.count(log_magnitude).label(f"n{index}"),
                sa.func.avg(log_magnitude).label(f"mean{index}"),
            ]
        return cls(sa.select(rows.c.day, *measures).select_from(rows).group_by(rows.c.day), len(safe))

    def decode(self, rows: Sequence[Any]) -> dict[str, list[Moments]]:
        """ISO day -> each column's moments of ln|x| (count and mean) that day."""
        return {
            day_key(row._mapping["day"]): [
                Moments.from_aggregates(
                    row._mapping[f"n{index}"], row._mapping[f"mean{index}"], 0.0, None, None
                )
                for index in range(self.columns)
            ]
            for row in rows
        }


def _null_like(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """A typed NULL under the label of `column`: the other branch of a UNION ALL fills that column."""
    if isinstance(column.type, sa.types.NullType):
        return sa.null().label(column.key)
    return sa.cast(sa.null(), column.type).label(column.key)


@dataclass(frozen=True)
class TopValues:
    """The most frequent values of each ranked column (by its index among the ranked columns), with their
    counts, most frequent first; with a day grouping also per day. `distinct` is each column's distinct count
    (per day: the largest day's)."""

    values: dict[int, list[tuple[str, int]]]
    distinct: dict[int, int]
    daily: dict[int, dict[str, list[tuple[str, int]]]]
    """Column -> ISO day -> that day's most frequent values (empty without a day grouping)."""
    daily_counts: dict[int, dict[str, dict[str, int]]] = field(default_factory=dict)
    """Column -> ISO day -> value -> rows, for every value returned: the day's most frequent, and those
    `TopValuesQuery.build` keeps beyond them (all of a day's values when it holds few)."""


@dataclass(frozen=True)
class TopValuesQuery:
    """The `top_k` most frequent values of each column with their counts and the column's distinct count, over
    the whole of `rows` or per day of it; `decode` reads back the labels `build` writes."""

    statement: sa.Select[Any]
    top_k: int
    by_day: bool

    @classmethod
    def build(
        cls,
        rows: sa.Subquery,
        columns: list[ColumnElement[Any]],
        top_k: int,
        grouping_sets: bool,
        by_day: bool = False,
        kept: Sequence[Sequence[str]] = (),
        whole_below: int = 0,
    ) -> TopValuesQuery:
        """The top values of `columns` of `rows`, grouped by raw value (as text, MISSING for NULL); with `by_day`
        ranked within each day of ``rows.c.day``, so that the tops of a window's days merge into the window's.

        Also returned with their counts, whatever their rank: the values `kept` names (one sequence per column),
        and every value of a column's day (or window) holding at most `whole_below` of them. A histogram's
        categories are then counted here, after grouping, instead of by a key on every row."""
        keys: dict[str, ColumnElement[Any]] = {
            f"k{index}": raw_key(column) for index, column in enumerate(columns)
        }
        day: tuple[str, ...] = ()
        if by_day:
            keys["day"] = rows.c.day
            day = ("day",)
        value_keys = [name for name in keys if name != "day"]
        inner = grouped(
            rows, [], keys, [(*day, name) for name in value_keys], [sa.func.count().label("n")], grouping_sets
        ).subquery()
        column_index = sa.case(
            *[(inner.c[name].is_not(None), index) for index, name in enumerate(value_keys)], else_=-1
        )
        value = (
            sa.func.coalesce(*[inner.c[name] for name in value_keys])
            if len(value_keys) > 1
            else inner.c["k0"]
        )
        partition = [column_index, *(inner.c[name] for name in day)]
        ranked = sa.select(
            column_index.label("col"),
            *(inner.c[name] for name in day),
            value.label("value"),
            inner.c.n,
            sa.func.row_number()
            .over(partition_by=partition, order_by=(inner.c.n.desc(), value))
            .label("rank"),
            sa.func.count().over(partition_by=partition).label("distinct_values"),
        ).subquery()
        returned = [ranked.c["rank"] <= top_k]
        if whole_below:
            returned.append(ranked.c.distinct_values <= whole_below)
        returned += [
            sa.and_(ranked.c.col == index, ranked.c.value.in_(list(values)))
            for index, values in enumerate(kept)
            if values
        ]
        return cls(
            sa.select(
                ranked.c.col,
                *(ranked.c[name] for name in day),
                ranked.c.value,
                ranked.c.n,
                ranked.c.distinct_values,
                ranked.c["rank"],
            ).where(sa.or_(*returned)),
            top_k,
            by_day,
        )

    def decode(self, rows: Sequence[Any]) -> TopValues:
        """Each column's values and counts (summed over days, the `top_k` largest), per day, and its distinct
        count."""
        daily: dict[int, dict[str, list[tuple[str, int]]]] = {}
        counts: dict[int, dict[str, dict[str, int]]] = {}
        distinct: dict[int, int] = {}
        for row in rows:
            column = int(row.col)
            if column < 0:
                continue
            day = day_key(row.day) if self.by_day else ""
            value, count = str(row.value), int(row.n)
            counts.setdefault(column, {}).setdefault(day, {})[value] = count
            if row.rank <= self.top_k:
                daily.setdefault(column, {}).setdefault(day, []).append((value, count))
            distinct[column] = max(distinct.get(column, 0), int(row.distinct_values))
        values = {column: list(merge_top_values(days.values(), self.top_k)) for column, days in daily.items()}
        return TopValues(values, distinct, daily if self.by_day else {}, counts)
