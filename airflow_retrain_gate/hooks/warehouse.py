"""WarehouseHook: an Airflow connection -> the SQLAlchemy engine and core Warehouse the gate reads through."""

from __future__ import annotations

import asyncio
from functools import cached_property
from pathlib import Path

import sqlalchemy as sa
from airflow.sdk import BaseHook, Connection, conf
from airflow.sdk.exceptions import AirflowNotFoundException
from airflow.sdk.log import mask_secret
from sqlalchemy.engine import URL, Engine

from airflow_retrain_gate.core import PolicyError, StateStore, Warehouse, WarehouseError, load_policy
from airflow_retrain_gate.core.dry_run import read_access_problems
from airflow_retrain_gate.core.engines import create_engine, parse_url
from airflow_retrain_gate.core.retry import RetrySettings

POSTGRES_CONN_TYPES = frozenset({"postgres", "postgresql"})


class WarehouseHook(BaseHook):
    """Builds the gate's Warehouse (and state store) from an Airflow connection of any SQLAlchemy dialect.

    The URL comes from, in order: the extra ``sqlalchemy_url`` (any connection type, e.g.
    ``duckdb:////data/warehouse.duckdb``); a ``postgres`` connection, through the postgres provider's own
    URL logic (extras ``sqlalchemy_scheme``, ``sqlalchemy_query``, IAM); or the extra ``drivername`` with the
    host, port, login, password and schema fields (e.g. ``snowflake``, ``trino``). Extras ``read_only``
    (DuckDB and SQLite files open read-only unless it is false), ``statement_timeout_s`` and
    ``connect_timeout_s`` (win over the policy's ``warehouse`` section), ``retries`` and ``retry_backoff_s``
    (reads retried after a refused or lost connection) and ``concurrency`` (queries at once) tune the warehouse;
    ``policies`` names policy files whose tables Airflow's connection test reads, and ``state_database: false``
    says that the connection only serves reads (the test then tries no write).

    :param warehouse_conn_id: the connection id (templated in the operators that take it).
    """

    conn_name_attr = "warehouse_conn_id"
    default_conn_name = "warehouse_default"
    conn_type = "retrain_gate_warehouse"
    hook_name = "Retrain gate warehouse"

    def __init__(self, warehouse_conn_id: str = default_conn_name) -> None:
        super().__init__()
        self.warehouse_conn_id = warehouse_conn_id

    @cached_property
    def connection(self) -> Connection:
        """The Airflow connection; a missing one raises an error naming its id."""
        try:
            return self.get_connection(self.warehouse_conn_id)
        except AirflowNotFoundException:
            raise AirflowNotFoundException(_not_defined(self.warehouse_conn_id)) from None

    @property
    def sqlalchemy_url(self) -> URL:
        """The connection's SQLAlchemy URL (its password is registered with Airflow's secrets masker)."""
        return sqlalchemy_url_of(self.connection)

    def get_sqlalchemy_engine(self) -> Engine:
        """A new engine for the connection, read-only on a DuckDB or SQLite file (the caller disposes it)."""
        return engine_of(self.connection)

    def get_warehouse(self) -> Warehouse:
        """The core Warehouse the gate and the sensors read from."""
        return warehouse_of(self.connection)

    def get_state_store(self) -> StateStore:
        """The gate's state database (decision log, profile cache) on this connection, opened for writing."""
        return StateStore(self.sqlalchemy_url.render_as_string(hide_password=False))

    def test_connection(self) -> tuple[bool, str]:
        """Airflow's connection test: the gate can read (every table the policies in the extra ``policies`` map)
        and, unless the extra ``state_database`` is false, write its state schema (in a transaction rolled back).

        The message names what failed.
        """
        try:
            warehouse = self.get_warehouse()
            try:
                warehouse.fetch(sa.select(sa.literal(1)), "connection test")
                policies = [load_policy(path) for path in self._policy_paths()]
                unreadable = [
                    problem for policy in policies for problem in read_access_problems(policy, warehouse)
                ]
            finally:
                warehouse.dispose()
        except (WarehouseError, PolicyError) as error:
            return False, str(error)
        if unreadable:
            return False, f"cannot read what the policies map: {'; '.join(unreadable)}"
        read = f"can read the tables of {len(policies)} policies" if policies else "can read the warehouse"
        if self.connection.extra_dejson.get("state_database") is False:
            return True, f"{read} (not tried for writes: the extra state_database is false)"
        try:
            state = self.get_state_store()
        except WarehouseError as error:
            return False, str(error)
        try:
            state.check_writable()
        except WarehouseError as error:
            return False, (
                f"{error}. The gate writes its decision log there: grant this role CREATE on it, or set the extra "
                "state_database to false and give the gates a state_conn_id of a writable database"
            )
        finally:
            state.dispose()
        where = f"schema {state.schema!r}" if state.schema else "database"
        return True, f"{read} and write the state {where} (tried in a transaction rolled back)"

    def _policy_paths(self) -> list[Path]:
        """The extra ``policies`` (a list, or paths separated by commas), relative to the DAGs folder."""
        value = self.connection.extra_dejson.get("policies") or []
        paths = value.split(",") if isinstance(value, str) else value
        folder = Path(conf.get("core", "dags_folder"))
        return [folder / str(path).strip() for path in paths if str(path).strip()]

    @classmethod
    async def aget_warehouse(cls, warehouse_conn_id: str) -> Warehouse:
        """The Warehouse for a trigger: the connection is looked up without blocking the event loop."""
        try:
            connection = await cls.aget_connection(warehouse_conn_id)
        except AirflowNotFoundException:
            raise AirflowNotFoundException(_not_defined(warehouse_conn_id)) from None
        return await asyncio.to_thread(warehouse_of, connection)


def sqlalchemy_url_of(connection: Connection) -> URL:
    """The SQLAlchemy URL a connection describes; errors name the connection, never its credentials."""
    extra = connection.extra_dejson
    conn_id = connection.conn_id
    if extra.get("sqlalchemy_url"):
        try:
            url = parse_url(str(extra["sqlalchemy_url"]))
        except WarehouseError as error:
            raise WarehouseError(f"connection {conn_id!r}: the extra 'sqlalchemy_url': {error}") from None
    elif connection.conn_type in POSTGRES_CONN_TYPES:
        from airflow.providers.postgres.hooks.postgres import PostgresHook

        url = PostgresHook(postgres_conn_id=conn_id, connection=connection).sqlalchemy_url
    elif extra.get("drivername"):
        url = URL.create(
            drivername=str(extra["drivername"]),
            username=connection.login or None,
            password=connection.password or None,
            host=connection.host or None,
            port=connection.port or None,
            database=connection.schema or None,
            query=extra.get("query") or {},
        )
    else:
        raise WarehouseError(
            f"connection {conn_id!r} (type {connection.conn_type!r}) does not say how to reach the "
            "warehouse: set the extra 'sqlalchemy_url' (e.g. duckdb:////data/warehouse.duckdb), or the "
            "extra 'drivername' with the host/login/password/schema fields, or use a postgres connection"
        )
    if url.password:
        mask_secret(url.password)
        mask_secret(url.render_as_string(hide_password=False))
    return url


def engine_of(connection: Connection) -> Engine:
    """A SQLAlchemy engine for a connection; DuckDB and SQLite files open read-only unless the extra `read_only`
    is false."""
    url = sqlalchemy_url_of(connection)
    read_only = connection.extra_dejson.get("read_only", True) is not False
    return create_engine(url.render_as_string(hide_password=False), read_only=read_only)


def warehouse_of(connection: Connection) -> Warehouse:
    """The core Warehouse for a connection, with the extras `statement_timeout_s`, `connect_timeout_s`, `retries`,
    `retry_backoff_s` and `concurrency` (queries at once; default 2 on a server, 1 embedded)."""
    extra = connection.extra_dejson
    timeout = extra.get("statement_timeout_s")
    connect_timeout = extra.get("connect_timeout_s")
    # The connection form stores an empty field as null.
    retry = RetrySettings(int(extra.get("retries") or 0), float(extra.get("retry_backoff_s") or 0.5))
    concurrency = extra.get("concurrency")
    return Warehouse(
        engine_of(connection),
        statement_timeout_s=float(timeout) if timeout else None,
        connect_timeout_s=float(connect_timeout) if connect_timeout else None,
        retry=retry,
        concurrency=int(concurrency) if concurrency else None,
    )


def _not_defined(conn_id: str) -> str:
    return (
        f"connection {conn_id!r} is not defined: add it under Admin > Connections or as the "
        f"environment variable AIRFLOW_CONN_{conn_id.upper()} (see docs/airflow.md)"
    )
