"""The state database: the gate's own tables (decision log, reference-profile cache), created and
migrated by versioned steps, in a `retrain_gate` schema where the dialect has schemas."""

from __future__ import annotations

import json
import os
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from airflow_retrain_gate.core.engines import (
    embedded_path,
    is_read_only,
    limit_connect_time,
    parse_url,
    release_read_only,
)
from airflow_retrain_gate.core.warehouse import WarehouseError, create_engine, short_error

SCHEMALESS_DIALECTS = {"sqlite"}
DEFAULT_SCHEMA = "retrain_gate"
CONNECT_TIMEOUT_S = 30.0
"""Longest the gate waits to open a connection to the state database."""
LOCK_WAIT_S = 60.0
"""Longest a write waits for other processes writing the same SQLite or DuckDB state file."""


def _tables(metadata: sa.MetaData) -> dict[str, sa.Table]:
    version = sa.Table(
        "retrain_gate_schema_version",
        metadata,
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("description", sa.String(200), nullable=False),
    )
    cache = sa.Table(
        "retrain_gate_profile_cache",
        metadata,
        sa.Column("cache_key", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("table_name", sa.String(400), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("query_version", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("profile_json", sa.Text, nullable=False),
    )
    decisions = sa.Table(
        "retrain_gate_decisions",
        metadata,
        sa.Column("dag_id", sa.String(250), primary_key=True),
        sa.Column("run_id", sa.String(250), primary_key=True),
        sa.Column("task_id", sa.String(250), primary_key=True),
        sa.Column("map_index", sa.Integer, primary_key=True),
        sa.Column("policy_name", sa.String(250), nullable=False),
        sa.Column("policy_sha256", sa.String(64), nullable=False),
        sa.Column("branch", sa.String(20), nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_s", sa.Float, nullable=False),
        sa.Column("decision_json", sa.Text, nullable=False),
        sa.Column("try_number", sa.Integer, nullable=False, default=1),
        sa.Column("review_branch", sa.String(20)),
        sa.Column("review_by", sa.String(250)),
        sa.Column("review_at", sa.DateTime(timezone=True)),
        sa.Column("review_comment", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        # Summaries, so history pages list decisions without parsing their JSON (added by migration 2).
        sa.Column("headline", sa.Text),
        sa.Column("deciding_checks", sa.String(500)),
    )
    sa.Index("ix_retrain_gate_decisions_as_of", decisions.c.as_of)
    sa.Index(
        "ix_retrain_gate_decisions_policy", decisions.c.policy_name, decisions.c.branch, decisions.c.as_of
    )
    sa.Index("ix_retrain_gate_decisions_dag_as_of", decisions.c.dag_id, decisions.c.as_of)
    return {"version": version, "cache": cache, "decisions": decisions}


SUMMARY_COLUMNS = ("headline", "deciding_checks")
"""The decision log's columns that summarise its decision document; logs older than migration 2 lack them."""


def decision_summary(document: dict[str, Any]) -> dict[str, str]:
    """The summary columns of a decision document (as `Decision.to_dict` writes it)."""
    reasons = document.get("reasons") or [""]
    return {"headline": reasons[0], "deciding_checks": ",".join(document.get("deciding_checks") or ())[:500]}


Migration = tuple[int, str, Callable[[Connection, dict[str, sa.Table]], None]]


def _create_initial(connection: Connection, tables: dict[str, sa.Table]) -> None:
    """Migration 1: create the tables (with every column declared today) and their indexes where missing."""
    for name in ("cache", "decisions"):
        tables[name].create(connection, checkfirst=True)
        for index in tables[name].indexes:
            # IF NOT EXISTS rather than checkfirst: duckdb-engine cannot reflect indexes.
            connection.execute(sa.schema.CreateIndex(index, if_not_exists=True))


def _add_decision_summaries(connection: Connection, tables: dict[str, sa.Table]) -> None:
    """Migration 2: give a decision log created before it the summary columns, fill them for its logged rows,
    and index DAG history."""
    decisions = tables["decisions"]
    preparer = connection.dialect.identifier_preparer
    # Column names from an empty result, not the inspector: duckdb-engine's reflection fails on DuckDB 2.
    existing = set(
        connection.exec_driver_sql(f"SELECT * FROM {preparer.format_table(decisions)} WHERE 1 = 0").keys()
    )
    for name in SUMMARY_COLUMNS:
        if name not in existing:
            ddl_type = decisions.c[name].type.compile(dialect=connection.dialect)
            connection.exec_driver_sql(
                f"ALTER TABLE {preparer.format_table(decisions)} ADD COLUMN {preparer.quote(name)} {ddl_type}"
            )
    keys = ("dag_id", "run_id", "task_id", "map_index")
    columns = decisions.c
    unsummarised = connection.execute(
        sa.select(*(columns[name] for name in (*keys, "decision_json"))).where(columns.headline.is_(None))
    ).all()
    for row in unsummarised:
        connection.execute(
            decisions.update()
            .where(*(columns[name] == getattr(row, name) for name in keys))
            .values(**decision_summary(json.loads(row.decision_json)))
        )
    for index in decisions.indexes:
        connection.execute(sa.schema.CreateIndex(index, if_not_exists=True))


MIGRATIONS: tuple[Migration, ...] = (
    (1, "decision log and reference-profile cache", _create_initial),
    (2, "decision log: headline and deciding checks for history pages", _add_decision_summaries),
)
"""Versioned schema steps, applied in order; append new steps, never edit old ones."""


class StateStore:
    """The gate's writable database, with its tables migrated on first use."""

    def __init__(self, url_or_engine: str | Engine, *, schema: str | None = DEFAULT_SCHEMA) -> None:
        if isinstance(url_or_engine, Engine) and not is_read_only(url_or_engine):
            self.engine = url_or_engine
        else:
            # A warehouse file opened read-only cannot hold the state: open the same file for writing.
            url = url_or_engine.url if isinstance(url_or_engine, Engine) else url_or_engine
            self.engine = _writable_engine(url if isinstance(url, str) else url.render_as_string(False))
        self.schema = None if self.engine.dialect.name in SCHEMALESS_DIALECTS else schema
        self.metadata = sa.MetaData(schema=self.schema)
        self.tables = _tables(self.metadata)
        self._migrated = False
        self._lock = threading.Lock()

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """A short write transaction, after making sure the tables exist."""
        self.migrate()
        with self.engine.begin() as connection:
            yield connection

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A read connection, after making sure the tables exist."""
        self.migrate()
        with self.engine.connect() as connection:
            yield connection

    def migrate(self) -> int:
        """Apply missing migrations (idempotent, safe across concurrent processes); returns the version."""
        if self._migrated:
            return MIGRATIONS[-1][0]
        with self._lock:
            try:
                with self.engine.begin() as connection:
                    self._apply_migrations(connection)
            except sa.exc.SQLAlchemyError as error:
                raise WarehouseError(
                    f"state database: cannot create the gate's tables: {short_error(error)}"
                ) from None
            self._migrated = True
        return MIGRATIONS[-1][0]

    def check_writable(self) -> None:
        """Do what the gate's first write does (create the schema and tables where missing, insert a row) in a
        transaction that is rolled back; a WarehouseError names the state schema when this role may not."""
        try:
            with self.engine.connect() as connection:
                transaction = connection.begin()
                try:
                    self._apply_migrations(connection)
                    connection.execute(
                        self.tables["version"]
                        .insert()
                        .values(
                            version=0, applied_at=datetime.now(UTC), description="write check, rolled back"
                        )
                    )
                finally:
                    transaction.rollback()
        except sa.exc.SQLAlchemyError as error:
            where = f"the state schema {self.schema!r}" if self.schema else "the state database"
            raise WarehouseError(f"cannot write {where}: {short_error(error)}") from None

    def _apply_migrations(self, connection: Connection) -> None:
        _lock_migrations(connection)
        if self.schema and not _schema_exists(connection, self.schema):
            connection.execute(sa.schema.CreateSchema(self.schema, if_not_exists=True))
        self.tables["version"].create(connection, checkfirst=True)
        applied = set(connection.execute(sa.select(self.tables["version"].c.version)).scalars())
        for version, description, step in MIGRATIONS:
            if version in applied:
                continue
            step(connection, self.tables)
            connection.execute(
                self.tables["version"]
                .insert()
                .values(version=version, applied_at=datetime.now(UTC), description=description)
            )

    def version(self) -> int:
        """The schema version recorded in the database (0 before the first migration)."""
        with self.engine.connect() as connection:
            if not sa.inspect(connection).has_table(self.tables["version"].name, schema=self.schema):
                return 0
            return int(
                connection.execute(sa.select(sa.func.max(self.tables["version"].c.version))).scalar() or 0
            )

    def dispose(self) -> None:
        """Close pooled connections."""
        self.engine.dispose()


def _writable_engine(url: str) -> Engine:
    """An engine for a state database; SQLite and DuckDB files take turns between processes writing them.

    SQLite writes start with BEGIN IMMEDIATE and wait up to LOCK_WAIT_S for the file lock, so concurrent gates
    serialise instead of failing with "database is locked". DuckDB admits one process per file: connections
    are not pooled (the lock is released after each transaction) and opening retries while another holds it.
    """
    duckdb_file = embedded_path(parse_url(url)) is not None and url.startswith("duckdb")
    engine = create_engine(url, pooled=not duckdb_file)
    limit_connect_time(engine, lambda: CONNECT_TIMEOUT_S)
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_waits_for_writers)
        sa.event.listen(engine, "begin", lambda connection: connection.exec_driver_sql("BEGIN IMMEDIATE"))
    if duckdb_file:
        sa.event.listen(engine, "do_connect", _duckdb_waits_for_writers)
    return engine


def _sqlite_waits_for_writers(dbapi_connection: Any, _: Any) -> None:
    dbapi_connection.isolation_level = None  # SQLAlchemy's "begin" listener issues BEGIN IMMEDIATE instead
    dbapi_connection.execute(f"PRAGMA busy_timeout = {int(LOCK_WAIT_S * 1000)}")


def _duckdb_waits_for_writers(dialect: Any, record: Any, cargs: Any, cparams: dict[str, Any]) -> Any:
    deadline = time.monotonic() + LOCK_WAIT_S
    pause = 0.02
    while True:
        try:
            return dialect.connect(*cargs, **cparams)
        except Exception as error:
            message = str(error)
            if "different configuration" in message:  # this process reads the file read-only: let it go
                release_read_only(os.path.abspath(cparams["database"]))
            elif "Could not set lock" not in message:
                raise
            if time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.5)


def _schema_exists(connection: Connection, schema: str) -> bool:
    """Whether PostgreSQL has the schema: there CREATE SCHEMA IF NOT EXISTS needs the CREATE privilege on the
    database even when the schema exists, which a state role owning only its schema lacks."""
    return connection.dialect.name == "postgresql" and sa.inspect(connection).has_schema(schema)


def _lock_migrations(connection: Connection) -> None:
    """Serialise concurrent migrations where the database can (a PostgreSQL advisory lock)."""
    if connection.dialect.name == "postgresql":
        connection.execute(
            sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": zlib.crc32(b"retrain_gate_migrations")}
        )
