"""Narrow a query's derived table to the columns one statement reads.

A UNION ALL of GROUP BYs (dialects without GROUPING SETS) repeats the window's derived table in every branch.
Inlined whole, it carries every column's cleaning expression into every branch: SQL text, parsing and binding
grow with columns squared (300 feature columns made 300 copies of a 300-column derived table). Each branch
therefore gets a copy of the derived table that keeps only the columns the branch reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql import visitors
from sqlalchemy.sql.elements import ColumnElement


def columns_read(source: sa.FromClause, expressions: Sequence[ColumnElement[Any]]) -> list[str]:
    """Names of `source`'s columns that `expressions` refer to, in first-use order."""
    names: dict[str, None] = {}
    for expression in expressions:
        for element in visitors.iterate(expression):
            if isinstance(element, sa.ColumnClause) and element.table is source:
                names[element.key] = None
    return list(names)


def narrowed(
    source: sa.FromClause, expressions: Sequence[ColumnElement[Any]]
) -> tuple[sa.FromClause, list[ColumnElement[Any]]]:
    """A copy of the derived table `source` keeping only the columns `expressions` read, and the expressions
    rewritten onto it; `source` and `expressions` unchanged when it is not a plain SELECT's derived table (a
    table, or a DISTINCT select whose rows would change with its columns)."""
    if not isinstance(source, sa.Subquery) or not isinstance(source.element, sa.Select):
        return source, list(expressions)
    inner = source.element
    if inner._distinct or inner._distinct_on:
        return source, list(expressions)
    names = columns_read(source, expressions)
    kept = [inner.selected_columns[name] for name in names] or [sa.literal(1).label("one")]
    narrow = inner.with_only_columns(*kept, maintain_column_froms=True).subquery(source.name)

    def onto_narrow(
        element: visitors.ExternallyTraversible, **_: Any
    ) -> visitors.ExternallyTraversible | None:
        if isinstance(element, sa.ColumnClause) and element.table is source:
            return narrow.c[element.key]
        return None

    return narrow, [visitors.replacement_traverse(expression, {}, onto_narrow) for expression in expressions]
