"""A table's schema as the warehouse reflected it: columns, their SQL types and the kinds the gate treats them as.

Plain data on the ground floor: the warehouse builds it, sources and the schema check read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from airflow_retrain_gate.core.engines import WarehouseError

TEMPORAL_KINDS = frozenset({"timestamp", "timestamptz", "date"})
NUMERIC_KINDS = frozenset({"numeric", "boolean"})


class MappingError(WarehouseError):
    """A table or column named in the policy does not exist in the warehouse."""

    def __init__(self, field_path: str, message: str) -> None:
        self.field_path = field_path
        super().__init__(f"{field_path}: {message}")


@dataclass(frozen=True)
class ColumnSchema:
    """A reflected column: its name, SQL type, and the kind the gate treats it as."""

    name: str
    sql_type: str
    kind: str
    """One of numeric, boolean, timestamp, timestamptz, date, text, other."""


@dataclass(frozen=True)
class TableSchema:
    """A reflected table: schema, name and columns in order."""

    schema: str | None
    name: str
    columns: dict[str, ColumnSchema]
    indexed: frozenset[str] = frozenset()
    """Columns that lead a btree or BRIN index of the table (reflected on PostgreSQL only), through which a range
    of their values is read without scanning the whole table."""
    btree_indexed: frozenset[str] = frozenset()
    """Of `indexed`, the columns that lead a btree: a range of their values is counted from the index alone."""

    @property
    def qualified_name(self) -> str:
        """``schema.name`` or ``name``."""
        return f"{self.schema}.{self.name}" if self.schema else self.name

    def column(self, field_path: str, name: str) -> ColumnSchema:
        """The column `name`, or a MappingError naming the policy field and the columns that exist."""
        if name in self.columns:
            return self.columns[name]
        folded = [column for column in self.columns if column.lower() == name.lower()]
        if len(folded) == 1:
            return self.columns[folded[0]]
        available = ", ".join(self.columns) or "none"
        raise MappingError(
            field_path, f"column {name!r} not found in table {self.qualified_name!r} (columns: {available})"
        )

    def clause(self, names: list[str]) -> sa.TableClause:
        """A lightweight table clause with typed columns, for building queries."""
        columns = [
            sa.column(self.columns[name].name, _TYPE_FOR_KIND[self.columns[name].kind]) for name in names
        ]
        return sa.table(self.name, *columns, schema=self.schema)


_TYPE_FOR_KIND: dict[str, sa.types.TypeEngine[Any]] = {
    "numeric": sa.Double(),
    "boolean": sa.Boolean(),
    "timestamp": sa.DateTime(timezone=False),
    "timestamptz": sa.DateTime(timezone=True),
    "date": sa.Date(),
    "text": sa.String(),
    "other": sa.types.NullType(),
}
