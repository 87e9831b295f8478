"""The roles the policy gives feature columns (timestamp, numeric, categorical) and the types each role needs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from airflow_retrain_gate.core.profiling.table_schema import (
    NUMERIC_KINDS,
    TEMPORAL_KINDS,
    ColumnSchema,
    MappingError,
    TableSchema,
)

if TYPE_CHECKING:  # the policy imports the check registry, whose schema check imports this module
    from airflow_retrain_gate.core.policy import FeaturesTable

ROLE_KINDS = {"numeric": (NUMERIC_KINDS, "a number"), "timestamp": (TEMPORAL_KINDS, "a timestamp")}
"""Roles that need a kind of type, and how a message names it; a categorical column may have any type."""


@dataclass(frozen=True)
class MappedColumn:
    """One column the features mapping names: its policy field, its role and its name in the warehouse."""

    field: str
    """The policy path, e.g. ``tables.features.numeric[1]``."""
    role: str
    name: str

    def misfit(self, column: ColumnSchema) -> str | None:
        """What the role needs ("a number"), when the column's type cannot serve it; else None."""
        kinds, needed = ROLE_KINDS.get(self.role, (None, ""))
        return needed if kinds is not None and column.kind not in kinds else None


def mapped_columns(mapping: FeaturesTable) -> list[MappedColumn]:
    """Every column of the features mapping with its role: timestamp, numeric, categorical, segment."""
    section = "tables.features"
    columns = [MappedColumn(f"{section}.timestamp", "timestamp", mapping.timestamp)]
    columns += [
        MappedColumn(f"{section}.numeric[{i}]", "numeric", name) for i, name in enumerate(mapping.numeric)
    ]
    columns += [
        MappedColumn(f"{section}.categorical[{i}]", "categorical", name)
        for i, name in enumerate(mapping.categorical)
    ]
    if mapping.segment:
        columns.append(MappedColumn(f"{section}.segment", "categorical", mapping.segment))
    return columns


def has_misfits(mapping: FeaturesTable, info: TableSchema) -> bool:
    """Whether a mapped column that exists has a type its role cannot use (a number column holding text)."""
    for mapped in mapped_columns(mapping):
        try:
            column = info.column(mapped.field, mapped.name)
        except MappingError:
            continue  # a missing column is reported on its own
        if mapped.misfit(column):
            return True
    return False
