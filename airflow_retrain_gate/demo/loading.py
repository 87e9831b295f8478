"""Writes story tables into a warehouse with bulk loads: DuckDB from DataFrames, PostgreSQL by COPY, Spark SQL
from Parquet files."""

from __future__ import annotations

import io
from contextlib import closing
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from airflow_retrain_gate.core.warehouse import create_engine
from airflow_retrain_gate.demo.spark_loading import load_spark

_PG_TYPES = {"i": "BIGINT", "f": "DOUBLE PRECISION", "M": "TIMESTAMP", "b": "BOOLEAN"}


def load_tables(
    target: str | Engine, frames: dict[str, pd.DataFrame], *, prefix: str = "", schema: str | None = None
) -> None:
    """Create (or replace) one table per frame, named `<schema>.<prefix><name>`."""
    engine = target if isinstance(target, Engine) else create_engine(target)
    try:
        dialect = engine.dialect.name
        if schema and dialect != "sqlite":
            with engine.begin() as connection:
                connection.execute(sa.schema.CreateSchema(schema, if_not_exists=True))
        for name, frame in frames.items():
            table = f"{prefix}{name}"
            if dialect == "duckdb":
                _load_duckdb(engine, table, schema, frame)
            elif dialect == "postgresql":
                _load_postgres(engine, table, schema, frame)
            elif dialect == "spark":
                load_spark(engine, table, schema, frame)
            else:
                frame.to_sql(table, engine, schema=schema, if_exists="replace", index=False, chunksize=20_000)
    finally:
        if not isinstance(target, Engine):
            engine.dispose()


def _qualified(engine: Engine, table: str, schema: str | None) -> str:
    preparer = engine.dialect.identifier_preparer
    return f"{preparer.quote(schema)}.{preparer.quote(table)}" if schema else preparer.quote(table)


def _load_duckdb(engine: Engine, table: str, schema: str | None, frame: pd.DataFrame) -> None:
    with engine.begin() as connection:
        raw = connection.connection.dbapi_connection
        raw.register("_story_frame", frame)  # type: ignore[union-attr]
        try:
            connection.exec_driver_sql(
                f"CREATE OR REPLACE TABLE {_qualified(engine, table, schema)} AS SELECT * FROM _story_frame"
            )
        finally:
            raw.unregister("_story_frame")  # type: ignore[union-attr]


def _pg_type(column: pd.Series) -> str:
    if isinstance(column.dtype, pd.DatetimeTZDtype):
        return "TIMESTAMPTZ"
    return _PG_TYPES.get(column.dtype.kind, "TEXT")


def _load_postgres(engine: Engine, table: str, schema: str | None, frame: pd.DataFrame) -> None:
    name = _qualified(engine, table, schema)
    preparer = engine.dialect.identifier_preparer
    columns = ", ".join(f"{preparer.quote(column)} {_pg_type(frame[column])}" for column in frame.columns)
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, header=False, na_rep="\\N")
    buffer.seek(0)
    raw = engine.raw_connection()
    try:
        with closing(raw.cursor()) as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {name}")
            cursor.execute(f"CREATE TABLE {name} ({columns})")
            _copy_in(cursor, f"COPY {name} FROM STDIN WITH (FORMAT csv, NULL '\\N')", buffer)
        raw.commit()
    finally:
        raw.close()


def _copy_in(cursor: Any, statement: str, buffer: io.StringIO) -> None:
    """COPY ... FROM STDIN with either PostgreSQL driver: psycopg2's `copy_expert` or psycopg 3's `copy`."""
    if hasattr(cursor, "copy_expert"):
        cursor.copy_expert(statement, buffer)
        return
    with cursor.copy(statement) as copy:
        copy.write(buffer.getvalue())
