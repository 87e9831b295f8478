"""How often one gate run read each table's windows: the cost of a decision on a warehouse billed per scan."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine.default import StrCompileDialect
from sqlalchemy.sql import visitors
from sqlalchemy.sql.selectable import ExecutableReturnsRows

if TYPE_CHECKING:
    from airflow_retrain_gate.core.warehouse import QueryRecord

Statement = ExecutableReturnsRows | sa.TextClause
"""A query the warehouse runs: a select (or a union of selects) or raw SQL text."""


@dataclass(frozen=True)
class Scan:
    """What a query reads, as its caller declares it: one table over one span of time."""

    table: str
    """The table's qualified name, as reflected (``schema.name`` or ``name``)."""
    window: str
    """The span read: ``reference``, ``current``, or another span such as ``freshness lookback``."""
    share: float = 1.0
    """The part of the span's days the query reads (a window profiled in day-aligned parts reads a share each)."""
    by_index: bool = False
    """Whether the query reads a few days of the table through an index led by its timestamp."""


@dataclass(frozen=True)
class WindowScans:
    """How one window of one table was read during a gate run."""

    window: str
    queries: int = 0
    """Queries sent that read this window of the table."""
    reads: float = 0.0
    """Reads of the window those queries made, in whole windows: a UNION ALL of three GROUP BYs reads it three
    times, a query over half the window's days reads half of it."""
    cached: int = 0
    """Profiles of this window the reference-profile cache answered instead of a query."""

    def describe(self) -> str:
        """``3x current``, ``0x reference (cached)``, ``2.5x reference in 4 queries (1 cached)``."""
        reads = f"{round(self.reads, 2):g}x {self.window}"
        if self.queries and self.queries != self.reads:
            reads += f" in {self.queries} {'query' if self.queries == 1 else 'queries'}"
        if self.cached:
            reads += " (cached)" if not self.queries else f" ({self.cached} cached)"
        return reads


@dataclass(frozen=True)
class TableScans:
    """How often a gate run read each window of one table, and its catalog entry (which reads no rows)."""

    table: str
    windows: tuple[WindowScans, ...] = ()
    catalog_reads: int = 0
    """Reflections of the table's columns: catalog queries, which scan none of its rows."""

    @property
    def reads(self) -> float:
        """Reads of the table's rows over every window, in whole windows."""
        return sum(window.reads for window in self.windows)

    def describe(self) -> str:
        """``features 3x current, 0x reference (cached)``."""
        parts = [window.describe() for window in self.windows] or ["no rows read"]
        return f"{self.table} {', '.join(parts)}"

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "table": self.table,
            "windows": [
                {
                    "window": window.window,
                    "queries": window.queries,
                    "reads": round(window.reads, 4),
                    "cached": window.cached,
                }
                for window in self.windows
            ],
            "catalog_reads": self.catalog_reads,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TableScans:
        """Rebuild from `to_dict` output."""
        return cls(
            table=str(data["table"]),
            windows=tuple(
                WindowScans(
                    window=str(window["window"]),
                    queries=int(window.get("queries") or 0),
                    reads=float(window.get("reads") or 0.0),
                    cached=int(window.get("cached") or 0),
                )
                for window in data.get("windows", ())
            ),
            catalog_reads=int(data.get("catalog_reads") or 0),
        )


def references(query: Statement, table: str) -> int:
    """How many times `query` reads `table` (qualified name): once per SELECT whose FROM names it (joins included),
    so a UNION ALL of three selects over one window subquery reads it three times, GROUPING SETS once. At least 1
    (a textual query names no table SQLAlchemy can see)."""
    found = sum(
        1
        for element in visitors.iterate(query)
        if isinstance(element, sa.Select)
        for source in _final_froms(element)
        for named in _tables_of(source)
        if named.fullname == table
    )
    return max(found, 1)


_STRING_DIALECT = StrCompileDialect()


def _final_froms(select: sa.Select[Any]) -> Sequence[sa.FromClause]:
    """What `select.get_final_froms()` returns, without compiling the whole statement to SQL text first, which
    that method does and which cost a tenth of a steady daily run: the same compile state, with a compiler that
    compiled nothing."""
    compiler = _STRING_DIALECT.statement_compiler(_STRING_DIALECT, None)
    return select._compile_state_factory(select, compiler)._get_display_froms()


def _tables_of(source: sa.FromClause) -> Iterable[sa.TableClause]:
    """The tables a FROM item names directly: itself, or both sides of a join."""
    if isinstance(source, sa.Join):
        yield from _tables_of(source.left)
        yield from _tables_of(source.right)
    elif isinstance(source, sa.TableClause):
        yield source


def tally(
    scans: Iterable[tuple[Scan, int]], cached: Iterable[Scan], catalog: Iterable[str]
) -> tuple[TableScans, ...]:
    """Sum each query's declared scans (with the times it read them), the profiles the cache answered, and the
    catalog reads, per table and window: tables by name, windows reference and current first (`_window_rank`), so
    that a run whose queries finished in another order (they run side by side) reads the same."""
    windows: dict[str, dict[str, WindowScans]] = {}
    catalog_reads: dict[str, int] = {}
    for table in catalog:
        catalog_reads[table] = catalog_reads.get(table, 0) + 1
        windows.setdefault(table, {})
    for scan, times in scans:
        seen = windows.setdefault(scan.table, {}).get(scan.window, WindowScans(scan.window))
        # Rounded: shares of a window's days (4/7 + 3/7) add up to whole reads in any order.
        windows[scan.table][scan.window] = WindowScans(
            scan.window,
            seen.queries + 1,
            round(seen.reads + times * scan.share, 9),
            seen.cached,
        )
    for scan in cached:
        seen = windows.setdefault(scan.table, {}).get(scan.window, WindowScans(scan.window))
        windows[scan.table][scan.window] = WindowScans(scan.window, seen.queries, seen.reads, seen.cached + 1)
    return tuple(
        TableScans(
            table,
            tuple(sorted(windows[table].values(), key=_window_rank)),
            catalog_reads.get(table, 0),
        )
        for table in sorted(windows)
    )


def _window_rank(scans: WindowScans) -> tuple[int, str]:
    """The policy's windows in time order, then the other spans (label spans, lookbacks) by name."""
    policy_windows = ("reference", "current")
    if scans.window in policy_windows:
        return policy_windows.index(scans.window), ""
    return len(policy_windows), scans.window


UNDECLARED = Scan("(undeclared)", "unknown span")
"""Where a query that did not say what it reads is counted: visible, so that it gets declared."""


def tally_records(records: Sequence[QueryRecord], cached: Iterable[Scan]) -> tuple[TableScans, ...]:
    """The tally of a gate run's query log records and the reads its cached profiles spared."""
    return tally(
        (
            read
            for record in records
            if record.catalog is None
            for read in (record.scans or ((UNDECLARED, 1),))
        ),
        cached,
        (record.catalog for record in records if record.catalog is not None),
    )


def describe_scans(tables: Iterable[TableScans]) -> str:
    """One line for people: ``features 3x current, 0x reference (cached); predictions ...``."""
    return "; ".join(table.describe() for table in tables)
