"""The warehouse: a SQLAlchemy engine used read-only, with reflection that names what exists."""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from airflow_retrain_gate.core.engines import (
    EMBEDDED_DIALECTS,
    WarehouseError,
    cancel_running,
    create_engine,
    is_read_only,
    limit_connect_time,
)
from airflow_retrain_gate.core.profiling.table_schema import ColumnSchema, MappingError, TableSchema
from airflow_retrain_gate.core.retry import RetrySettings
from airflow_retrain_gate.core.scans import Scan, Statement, references
from airflow_retrain_gate.core.secrets import RedactingFilter, scrub
from airflow_retrain_gate.core.sql import (
    GROUPING_SETS_DIALECTS,
)
from airflow_retrain_gate.core.warehouse_settings import WarehouseSettings

log = logging.getLogger("airflow_retrain_gate")
log.addFilter(RedactingFilter())

DEFAULT_URL = "duckdb:///:memory:"
SERVER_CONCURRENCY = 2
"""Default number of queries the gate runs at once on a warehouse server."""
SHARED_CONNECTION_POOLS = (sa.pool.StaticPool, sa.pool.AssertionPool)
"""Pools with one connection for the whole engine: queries on them run one at a time."""
UNREACHABLE_MEMORY_S = 30.0
"""After a connection could not be opened, later reads within this time fail at once instead of each waiting for
its own connect timeout (a gate reads several tables; a dead host must not cost one timeout per table)."""
Result = TypeVar("Result")


class ReadStopped(WarehouseError):
    """A read ended by its statement timeout or by `Warehouse.cancel`."""


def classify_type(sql_type: sa.types.TypeEngine[Any] | str) -> str:
    """Map a reflected SQL type to the kind of value the gate treats it as."""
    if isinstance(sql_type, sa.types.TypeEngine):
        if isinstance(sql_type, sa.Boolean):
            return "boolean"
        if isinstance(sql_type, sa.DateTime):
            return "timestamptz" if getattr(sql_type, "timezone", False) else "timestamp"
        if isinstance(sql_type, sa.Date):
            return "date"
        if isinstance(sql_type, sa.Numeric | sa.Integer | sa.Float):
            return "numeric"
        if isinstance(sql_type, sa.String | sa.Text | sa.Enum):
            return "text"
        text = str(sql_type)
    else:
        text = sql_type
    upper = text.upper()
    if upper.startswith("BOOL"):
        return "boolean"
    if "TIMESTAMP" in upper or "DATETIME" in upper:
        # Snowflake's TIMESTAMP_NTZ is naive ("no time zone"); its TIMESTAMP_LTZ and TIMESTAMP_TZ are instants.
        zoned = "WITH TIME ZONE" in upper or (upper.endswith("TZ") and not upper.endswith("NTZ"))
        return "timestamptz" if zoned else "timestamp"
    if upper == "DATE":
        return "date"
    numeric_words = ("INT", "DOUBLE", "FLOAT", "REAL", "DECIMAL", "NUMERIC", "NUMBER")
    if any(word in upper for word in numeric_words):
        return "numeric"
    if any(word in upper for word in ("CHAR", "TEXT", "STRING", "ENUM", "UUID")):
        return "text"
    return "other"


@dataclass
class QueryRecord:
    """One query the gate ran: what it was for, the rows it returned and how long it took."""

    purpose: str
    rows: int
    seconds: float
    scans: tuple[tuple[Scan, int], ...] = ()
    """The table windows the query read, each with how many times the statement reads it."""
    catalog: str | None = None
    """The table whose columns a catalog read reflected (it reads none of the table's rows)."""


@dataclass
class QueryLog:
    """Every query a gate run sent, for evidence, benchmarks and the bounded-rows test."""

    records: list[QueryRecord] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, record: QueryRecord) -> None:
        """Append one record (thread-safe)."""
        with self._lock:
            self.records.append(record)

    @property
    def rows_fetched(self) -> int:
        """Total rows that came back into Python."""
        return sum(record.rows for record in self.records)


def default_concurrency(engine: Engine) -> int:
    """Queries to run at once on `engine`: a server works on several connections in parallel (a query's hash
    aggregation over grouping sets is single-threaded there); an embedded engine parallelises each query itself,
    and a pool that hands every thread the same connection (StaticPool, AssertionPool) cannot run two."""
    if engine.dialect.name in EMBEDDED_DIALECTS or isinstance(engine.pool, SHARED_CONNECTION_POOLS):
        return 1
    return SERVER_CONCURRENCY


class Warehouse:
    """A SQLAlchemy engine the gate reads from, in read-only UTC transactions with connect and statement timeouts.

    A DuckDB or SQLite file is opened read-only unless `read_only=False`: many gates then share it, and a path
    that does not exist is an error, not a new empty file; `release` lets go of it between gate runs. Timeouts given here win over the policy's
    `warehouse` section (`use_settings`), whose defaults apply otherwise.
    """

    def __init__(
        self,
        url_or_engine: str | Engine = DEFAULT_URL,
        *,
        statement_timeout_s: float | None = None,
        connect_timeout_s: float | None = None,
        read_only: bool | None = None,
        retry: RetrySettings | None = None,
        concurrency: int | None = None,
    ) -> None:
        self._owns_engine = not isinstance(url_or_engine, Engine)
        """Whether this warehouse created its engine (a caller's engine, maybe an in-memory one, is the caller's)."""
        if isinstance(url_or_engine, Engine):
            self.engine = url_or_engine
        else:
            self.engine = create_engine(url_or_engine, read_only=read_only is not False)
        self._timeouts = (statement_timeout_s, connect_timeout_s)
        self.settings = WarehouseSettings()
        """The policy's limits, used where no explicit timeout was given."""
        self.concurrency = concurrency or default_concurrency(self.engine)
        """Queries run at once."""
        self.retry = retry or RetrySettings()
        self.query_log = QueryLog()
        self.observers: list[Callable[[QueryRecord], None]] = []
        self._tables: dict[str, TableSchema] = {}
        self._reflecting: dict[str, threading.Lock] = {}
        """One lock per table name: profiles running side by side reflect a table they share once."""
        self._running: set[Any] = set()
        self._running_lock = threading.Lock()
        self._cancelled = False
        self._unreachable: tuple[float, str] | None = None
        self._holds = 0
        self.snapshot: dict[str, Any] | None = None
        """Inside `held`: what readers learnt of the tables, by the reader's key, for later reads in the block to
        reuse (the block reads the tables as they were when first read); None outside."""
        # A weak reference: the engine (maybe shared, maybe cached by a hook) must not keep this warehouse alive.
        owner = weakref.ref(self)
        limit_connect_time(
            self.engine, lambda: warehouse.connect_timeout_s if (warehouse := owner()) else None
        )

    @property
    def statement_timeout_s(self) -> float:
        """Longest one read may run, in seconds."""
        return self._timeouts[0] or self.settings.statement_timeout_s

    @property
    def connect_timeout_s(self) -> float:
        """Longest the gate waits for a connection, in seconds (never more than the statement timeout)."""
        return min(self._timeouts[1] or self.settings.connect_timeout_s, self.statement_timeout_s)

    def use_settings(self, settings: WarehouseSettings) -> None:
        """Take the policy's time limits where this warehouse was given none."""
        self.settings = settings

    @property
    def dialect(self) -> str:
        """The SQLAlchemy dialect name (duckdb, postgresql, sqlite ...)."""
        return self.engine.dialect.name

    @property
    def supports_grouping_sets(self) -> bool:
        """Whether one scan can aggregate several GROUP BY sets at once."""
        return self.dialect in GROUPING_SETS_DIALECTS

    def describe(self, qualified_name: str, field_path: str) -> TableSchema:
        """Reflect a table named in the policy; a MappingError lists the tables that do exist."""
        with self._running_lock:
            reflecting = self._reflecting.setdefault(qualified_name, threading.Lock())
        with reflecting:
            if qualified_name in self._tables:
                return self._tables[qualified_name]
            started = time.perf_counter()
            info = self._read(
                lambda: self._reflect(qualified_name, field_path),
                f"{field_path}: reflection",
                f"{field_path}: cannot reflect {qualified_name!r}",
            )
            self._tables[qualified_name] = info
            seconds = time.perf_counter() - started
        self.query_log.add(
            QueryRecord(f"{field_path}: reflection", len(info.columns), seconds, catalog=info.qualified_name)
        )
        return info

    def _reflect(self, qualified_name: str, field_path: str) -> TableSchema:
        schema, _, name = qualified_name.rpartition(".")
        schema_name = schema or None
        with self.reading() as connection:
            inspector = sa.inspect(connection)
            try:
                names = inspector.get_table_names(schema=schema_name) + inspector.get_view_names(
                    schema=schema_name
                )
            except sa.exc.SQLAlchemyError as error:
                if schema_name and not _schema_exists(inspector, schema_name):
                    raise MappingError(
                        field_path, f"schema {schema_name!r} of table {qualified_name!r} does not exist"
                    ) from None
                raise WarehouseError(f"{field_path}: cannot list tables: {short_error(error)}") from None
            actual = _match_name(name, names)
            if actual is None:
                listed = ", ".join(sorted(names)[:30]) or "none"
                where = f" in schema {schema_name!r}" if schema_name else ""
                raise MappingError(
                    field_path, f"table {qualified_name!r} not found{where} (tables: {listed})"
                )
            columns = _reflect_columns(connection, inspector, schema_name, actual)
            indexed, btree_indexed = _leading_index_columns(connection, schema_name, actual)
        return TableSchema(schema_name, actual, columns, indexed, btree_indexed)

    @contextmanager
    def reading(self, by_index: bool = False) -> Iterator[Connection]:
        """A connection in a read-only transaction (where the dialect has one), in UTC, with the timeout set;
        `by_index`: the statement reads a few days of tables through indexes led by their timestamps, and
        PostgreSQL is kept from scanning the whole tables instead.

        A statement past the timeout, or stopped by `cancel`, ends in a WarehouseError saying so.
        """
        if self._cancelled:
            raise WarehouseError("not read: the gate was stopped")
        timeout_s = self.statement_timeout_s
        with self.engine.connect() as connection:
            raw = connection.connection.dbapi_connection
            with self._running_lock:
                self._running.add(raw)
            timer = _EmbeddedTimeout(raw, timeout_s) if connection.dialect.name in EMBEDDED_DIALECTS else None
            try:
                with connection.begin():
                    _prepare_read(connection, timeout_s, by_index)
                    # Checked again once registered: a cancel that came while the connection was being opened
                    # or prepared had no statement of this read to stop.
                    if self._cancelled:
                        raise WarehouseError("not read: the gate was stopped")
                    yield connection
            except sa.exc.SQLAlchemyError:
                if self._cancelled:
                    raise ReadStopped("query cancelled: the gate was stopped") from None
                if timer is not None and timer.fired.is_set():
                    raise ReadStopped(f"statement timeout of {timeout_s:g} s exceeded") from None
                raise
            finally:
                if timer is not None:
                    timer.cancel()
                with self._running_lock:
                    self._running.discard(raw)

    def cancel(self) -> None:
        """Stop every running read on the server (or embedded engine) and refuse new ones (SIGTERM, on_kill)."""
        with self._running_lock:
            self._cancelled = True
            running = list(self._running)
        for raw in running:
            try:
                cancel_running(raw)
            except Exception as error:  # noqa: BLE001 - the read may have finished meanwhile
                log.warning("could not cancel a running warehouse read: %s", short_error(error))

    def fetch(self, query: Statement, purpose: str, scans: tuple[Scan, ...] = ()) -> list[sa.Row[Any]]:
        """Run one aggregate query and return its (bounded) rows, recording them in the query log with the table
        windows it `scans` (as the caller declares them) and how many times the statement reads each."""
        started = time.perf_counter()

        by_index = bool(scans) and all(scan.by_index for scan in scans)

        def read() -> list[sa.Row[Any]]:
            with self.reading(by_index) as connection:
                return list(connection.execute(query).all())

        rows = self._read(read, purpose, f"{purpose}: query failed")
        reads = tuple((scan, references(query, scan.table)) for scan in scans)
        record = QueryRecord(purpose, len(rows), time.perf_counter() - started, reads)
        log.info("%s: %d aggregate rows in %.2f s", purpose, record.rows, record.seconds)
        self.query_log.add(record)
        for observer in self.observers:
            observer(record)
        return rows

    def _read(self, action: Callable[[], Result], purpose: str, failure: str) -> Result:
        """Run a read with retries; a failure becomes one WarehouseError line starting with `failure`.

        After a connection could not be opened, reads fail at once for UNREACHABLE_MEMORY_S.
        """
        if self._unreachable is not None and time.monotonic() - self._unreachable[0] < UNREACHABLE_MEMORY_S:
            raise WarehouseError(
                f"{failure}: {self._unreachable[1]} (not tried again: it failed moments ago)"
            )
        try:
            return self.retry.call(action, purpose)
        except ReadStopped as error:
            raise WarehouseError(f"{failure}: {error}") from None
        except sa.exc.SQLAlchemyError as error:
            reason = short_error(error)
            if isinstance(error, sa.exc.DBAPIError) and error.statement is None:
                self._unreachable = (time.monotonic(), reason)
            raise WarehouseError(f"{failure}: {reason}") from None

    def fetch_all(
        self, queries: Sequence[tuple[Statement, str, tuple[Scan, ...]]]
    ) -> list[list[sa.Row[Any]]]:
        """Run independent queries (with their purposes and scans, as `fetch` takes them), up to `concurrency` at
        once; results in the order given."""
        if self.concurrency <= 1 or len(queries) <= 1:
            return [self.fetch(*item) for item in queries]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(queries))) as pool:
            return list(pool.map(lambda item: self.fetch(*item), queries))

    def bind_time(self, value: datetime, kind: str) -> datetime | date:
        """A UTC instant as a parameter the column's type compares correctly (naive UTC for naive columns)."""
        if kind == "date":
            return value.date()
        if kind == "timestamptz":
            return value
        return value.astimezone(UTC).replace(tzinfo=None)

    def release(self) -> None:
        """Close the idle connections of an engine this warehouse created, or of a read-only DuckDB or SQLite
        file, so that the process holds no server connection or file between gate runs (the gate calls this
        when its reads are done; a later read connects again). Inside `held`, the connections stay open."""
        if self._holds == 0 and (self._owns_engine or is_read_only(self.engine)):
            self.engine.dispose()

    @contextmanager
    def held(self) -> Iterator[None]:
        """Read the tables as one snapshot in the block (a backtest's dates, one after another): connections stay
        open until its end (reopening a DuckDB file costs as much as a day's verification query), and `snapshot`
        keeps what readers learnt of the tables, such as each day's rows, for the later gate runs."""
        if self._holds == 0:
            self.snapshot = {}
        self._holds += 1
        try:
            yield
        finally:
            self._holds -= 1
            if self._holds == 0:
                self.snapshot = None
            self.release()

    def dispose(self) -> None:
        """Close pooled connections."""
        self.engine.dispose()


def _prepare_read(connection: Connection, timeout_s: float, by_index: bool) -> None:
    dialect = connection.dialect.name
    if dialect == "postgresql":
        connection.exec_driver_sql("SET TRANSACTION READ ONLY")
        connection.exec_driver_sql("SET LOCAL TIME ZONE 'UTC'")
        if (connection.dialect.server_version_info or (0,)) >= (13,):
            # Grouping expressions hide how few groups there are (days x bins); without room to hash, the
            # planner sorts the whole window once per grouping set.
            connection.exec_driver_sql("SET LOCAL hash_mem_multiplier = 64")
        if by_index:
            # PostgreSQL costs a BRIN bitmap scan of one day of a 70-day table like a scan of the whole table, and
            # scanned the whole table for one new day in two: 5.7-7.4 s against 1.9-2.5 s at 100M rows, whether
            # the table was in the page cache or not. (For half of the table, the seq scan it picks is faster
            # from disk: so only a few days' reads are steered, and the per-day counts of the cached days from a
            # btree, which read the index alone.) Without an index path, it still scans the table.
            connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        # Enforced by the server: the statement ends on time even when this process is gone.
        connection.exec_driver_sql(f"SET LOCAL statement_timeout = {max(1, int(timeout_s * 1000))}")
    elif dialect == "spark":
        from airflow_retrain_gate.core.spark_dialect import limit_statement_time

        limit_statement_time(connection, timeout_s)


class _EmbeddedTimeout(threading.Timer):
    """Embedded engines have no statement timeout: interrupt the connection from a timer instead."""

    def __init__(self, raw: Any, timeout_s: float) -> None:
        super().__init__(timeout_s, self._interrupt, args=(raw,))
        self.daemon = True
        self.fired = threading.Event()
        """Set before the interrupt, so the failing read knows it was the timeout."""
        self.start()

    def _interrupt(self, raw: Any) -> None:
        self.fired.set()
        cancel_running(raw)


def _match_name(name: str, names: list[str]) -> str | None:
    if name in names:
        return name
    folded = [candidate for candidate in names if candidate.lower() == name.lower()]
    return folded[0] if len(folded) == 1 else None


def _schema_exists(inspector: sa.Inspector, schema: str) -> bool:
    try:
        return schema in inspector.get_schema_names() or any(
            qualified.endswith(f".{schema}") for qualified in inspector.get_schema_names()
        )
    except sa.exc.SQLAlchemyError:
        return False


_LEADING_INDEX_COLUMNS = sa.text(
    "SELECT attribute.attname, method.amname FROM pg_catalog.pg_index AS ix"
    " JOIN pg_catalog.pg_attribute AS attribute"
    " ON attribute.attrelid = ix.indrelid AND attribute.attnum = ix.indkey[0]"
    " JOIN pg_catalog.pg_class AS ix_class ON ix_class.oid = ix.indexrelid"
    " JOIN pg_catalog.pg_am AS method ON method.oid = ix_class.relam"
    " WHERE ix.indrelid = to_regclass(:name) AND ix.indisvalid AND ix.indpred IS NULL"
    " AND method.amname IN ('btree', 'brin')"
)
"""PostgreSQL: the columns that lead a valid, whole-table btree or BRIN index of a table, with the index's access
method (expression indexes lead with no column; hash and other methods read no range)."""


def _leading_index_columns(
    connection: Connection, schema: str | None, table: str
) -> tuple[frozenset[str], frozenset[str]]:
    """The columns that lead a btree or BRIN index of `table` on PostgreSQL (a BRIN on an append-only table's
    timestamp, a btree), and those that lead a btree; none elsewhere, where the gate does not steer the planner,
    nor on a server speaking PostgreSQL's protocol without its catalog (a faster plan is not worth failing the gate
    for)."""
    if connection.dialect.name != "postgresql":
        return frozenset(), frozenset()
    quote = connection.dialect.identifier_preparer.quote_identifier
    name = ".".join(quote(part) for part in (schema, table) if part)
    try:
        with connection.begin_nested():
            leading = connection.execute(_LEADING_INDEX_COLUMNS, {"name": name}).all()
    except sa.exc.SQLAlchemyError as error:
        log.warning("cannot list the indexes of %s: %s", name, short_error(error))
        return frozenset(), frozenset()
    return (
        frozenset(column for column, _ in leading),
        frozenset(column for column, method in leading if method == "btree"),
    )


def _reflect_columns(
    connection: Connection, inspector: sa.Inspector, schema: str | None, table: str
) -> dict[str, ColumnSchema]:
    if connection.dialect.name == "duckdb":
        # duckdb-engine's column reflection queries pg_collation, which DuckDB lacks under SQLAlchemy 2.1.
        columns_table = sa.table(
            "columns",
            sa.column("table_schema"),
            sa.column("table_name"),
            sa.column("column_name"),
            sa.column("data_type"),
            sa.column("ordinal_position"),
            schema="information_schema",
        )
        query = (
            sa.select(columns_table.c.column_name, columns_table.c.data_type)
            .where(columns_table.c.table_name == table)
            .where(columns_table.c.table_schema == (schema or sa.func.current_schema()))
            .order_by(columns_table.c.ordinal_position)
        )
        rows = connection.execute(query).all()
        return {name: ColumnSchema(name, data_type, classify_type(data_type)) for name, data_type in rows}
    reflected = inspector.get_columns(table, schema=schema)
    return {
        column["name"]: ColumnSchema(
            column["name"], str(column["type"]), reflected_kind(connection.dialect.name, column["type"])
        )
        for column in reflected
    }


def reflected_kind(dialect: str, sql_type: sa.types.TypeEngine[Any]) -> str:
    """The kind of a column `dialect` reflected: BigQuery's TIMESTAMP, an instant, reflects without a time zone."""
    kind = classify_type(sql_type)
    if dialect == "bigquery" and kind == "timestamp" and isinstance(sql_type, sa.TIMESTAMP):
        return "timestamptz"
    return kind


def short_error(error: BaseException) -> str:
    """The first line of a driver error, without SQL, parameters or credentials."""
    original = getattr(error, "orig", None) or error
    text = str(original).strip().splitlines()[0] if str(original).strip() else type(original).__name__
    return scrub(text)[:300]
