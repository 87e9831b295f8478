"""Opening connections: URL checks, connect timeouts, read-only embedded files, and cancelling a running query."""

from __future__ import annotations

import math
import os
import weakref
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from airflow_retrain_gate.core.secrets import SECRETS, misparsed, redact_url, scrub

EMBEDDED_DIALECTS = frozenset({"duckdb", "sqlite"})
CONNECT_TIMEOUT_ARGUMENTS = {
    "psycopg2": "connect_timeout",
    "psycopg": "connect_timeout",
    "pymysql": "connect_timeout",
}
"""The driver's own connect timeout (seconds), by SQLAlchemy driver name. Others have none the gate sets (pg8000's
`timeout` also ends long reads; embedded engines do not connect over a network): see docs/reliability.md."""
DUCKDB_MEMORY_LIMIT = os.environ.get("RETRAIN_GATE_DUCKDB_MEMORY_LIMIT", "128MB")
"""DuckDB's buffer pool in the gate's process: aggregates are small, scans stream, so memory stays flat
(DuckDB's own default is 80% of the machine). Set the environment variable to change it."""
_READ_ONLY_ENGINES: weakref.WeakSet[Engine] = weakref.WeakSet()
# `spark://host:10000/database`: Spark SQL's Thrift server (airflow_retrain_gate/core/spark_dialect.py).
sa.dialects.registry.register("spark", "airflow_retrain_gate.core.spark_dialect", "SparkDialect")


class WarehouseError(RuntimeError):
    """The warehouse could not answer: unreachable, timed out, or a table/column is missing.

    The message is scrubbed of every credential of a URL this process opened.
    """

    def __init__(self, message: str) -> None:
        super().__init__(scrub(message))


def create_engine(url: str, *, read_only: bool = False, pooled: bool = True) -> Engine:
    """An engine for `url`; with `read_only`, a DuckDB or SQLite file is opened read-only (and must exist).

    `pooled=False` opens a connection per transaction, so that the process holds a file only while it uses it.

    DuckDB without its ICU extension (not bundled, and nothing downloads at run time) does timestamp
    arithmetic in UTC, which is what the gate wants.
    """
    parsed = parse_url(url)
    SECRETS.register_url(url)
    path = embedded_path(parsed)
    read_only = read_only and path is not None
    if read_only and not os.path.isfile(path or ""):
        raise WarehouseError(
            f"warehouse file {path!r} does not exist: check the path in the URL "
            "(the gate opens DuckDB and SQLite warehouses read-only and never creates them)"
        )
    options: dict[str, Any] = {} if pooled else {"poolclass": sa.pool.NullPool}
    try:
        engine = sa.create_engine(parsed, **options)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError) as error:
        raise WarehouseError(f"warehouse URL is not usable: {error} (URL {redact_url(url)})") from None
    if engine.dialect.name == "duckdb":
        sa.event.listen(engine, "connect", _limit_duckdb_memory)
    if read_only:
        _READ_ONLY_ENGINES.add(engine)
        opener = _open_duckdb_read_only if engine.dialect.name == "duckdb" else _open_sqlite_read_only
        sa.event.listen(engine, "do_connect", opener)
    return engine


def parse_url(url: str) -> sa.URL:
    """`url` parsed by SQLAlchemy; an unparseable or misparsed URL is refused without echoing its credentials."""
    shown = redact_url(url)
    try:
        parsed = sa.engine.make_url(url)
    except (sa.exc.ArgumentError, ValueError):
        raise WarehouseError(
            f"warehouse URL {shown} cannot be parsed: expected dialect+driver://user:password@host/database "
            "(percent-encode special characters in the user name and password)"
        ) from None
    if parsed.drivername.split("+")[0] == "postgres":
        raise WarehouseError(
            f"warehouse URL {shown}: 'postgres://' is not a SQLAlchemy dialect; write 'postgresql://' "
            "(or 'postgresql+psycopg2://') instead"
        )
    if misparsed(url, parsed.host):
        raise WarehouseError(
            f"warehouse URL {shown}: the user name or password holds an unescaped '@' or '/', so part of it "
            "would be read as the host; percent-encode them ('@' as %40, '/' as %2F)"
        )
    return parsed


def embedded_path(url: sa.URL) -> str | None:
    """The file a DuckDB or SQLite URL opens, or None for in-memory databases, servers and SQLite URIs."""
    database = url.database or ""
    backend = url.get_backend_name()
    if backend not in EMBEDDED_DIALECTS or database in ("", ":memory:") or url.query.get("uri"):
        return None
    if backend == "duckdb" and ":" in database.split("/", 1)[0]:
        return None  # md:, s3: and other DuckDB catalogs are not local files
    return os.path.abspath(database)


def is_read_only(engine: Engine) -> bool:
    """Whether `engine` opens an embedded file read-only (a state store cannot write through it)."""
    return engine in _READ_ONLY_ENGINES


def release_read_only(path: str) -> None:
    """Close the idle read-only connections this process holds on the file `path` (DuckDB admits one
    configuration per file and process, so a writer in this process must wait for them to go)."""
    for engine in list(_READ_ONLY_ENGINES):
        if embedded_path(engine.url) == path:
            engine.dispose()


def limit_connect_time(engine: Engine, seconds: Callable[[], float | None]) -> None:
    """Give every new connection of `engine` the driver's connect timeout, unless its URL sets one
    (`seconds` returns None once its owner is gone, leaving the choice to another listener)."""
    argument = CONNECT_TIMEOUT_ARGUMENTS.get(engine.dialect.driver)
    if argument is None:
        return

    def set_timeout(dialect: Any, record: Any, cargs: Any, cparams: dict[str, Any]) -> None:
        limit = seconds()
        if limit is not None:
            cparams.setdefault(argument, max(1, math.ceil(limit)))

    sa.event.listen(engine, "do_connect", set_timeout)


def cancel_running(dbapi_connection: Any) -> None:
    """Ask the server (or the embedded engine) to stop the statement running on `dbapi_connection`."""
    inner = getattr(dbapi_connection, "_ConnectionWrapper__c", dbapi_connection)  # duckdb-engine's wrapper
    for method in ("cancel", "interrupt"):
        stop = getattr(inner, method, None)
        if callable(stop):
            stop()
            return


def _limit_duckdb_memory(dbapi_connection: Any, _: Any) -> None:
    # A SET, not a connect option: other connections to the same file in this process keep working.
    dbapi_connection.execute(f"SET memory_limit = '{DUCKDB_MEMORY_LIMIT}'")


def _open_duckdb_read_only(dialect: Any, record: Any, cargs: Any, cparams: dict[str, Any]) -> Any:
    """Open read-only, so that gates in many processes share the file; when this process already holds it
    read-write (DuckDB allows one configuration per file and process), share that instance instead."""
    try:
        return dialect.connect(*cargs, **{**cparams, "read_only": True})
    except Exception as error:
        if "different configuration" not in str(error):
            raise
    return dialect.connect(*cargs, **cparams)


def _open_sqlite_read_only(dialect: Any, record: Any, cargs: list[Any], cparams: dict[str, Any]) -> None:
    cargs[0] = f"file:{quote(os.path.abspath(cargs[0]))}?mode=ro"
    cparams["uri"] = True
