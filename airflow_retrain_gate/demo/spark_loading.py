"""Writes a story table into Spark SQL as a Parquet table: Spark creates the table, DuckDB writes its file.

The Parquet file is written where Spark keeps the table, so the loader needs that directory on a filesystem it
shares with the server (true of the demo's and the tests' server on this machine).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
from sqlalchemy.engine import Engine

_SPARK_TYPES = {
    "BIGINT": "BIGINT",
    "INTEGER": "INT",
    "DOUBLE": "DOUBLE",
    "FLOAT": "FLOAT",
    "BOOLEAN": "BOOLEAN",
    "VARCHAR": "STRING",
    "DATE": "DATE",
    "TIMESTAMP": "TIMESTAMP_NTZ",
    "TIMESTAMP_NS": "TIMESTAMP_NTZ",
    "TIMESTAMP WITH TIME ZONE": "TIMESTAMP",
}
"""DuckDB's type of a pandas column -> the Spark SQL column type (naive timestamps stay naive)."""
_PARQUET_TYPES = {"TIMESTAMP_NS": "TIMESTAMP"}
"""Spark reads microsecond timestamps only: nanosecond columns are written as microseconds."""


def load_spark(engine: Engine, table: str, schema: str | None, frame: pd.DataFrame) -> None:
    """Create (or replace) `schema.table` as a Parquet table holding `frame`."""
    preparer = engine.dialect.identifier_preparer
    name = f"{preparer.quote(schema)}.{preparer.quote(table)}" if schema else preparer.quote(table)
    with duckdb.connect() as local:
        relation = local.from_df(frame)
        types = {column: str(kind) for column, kind in zip(relation.columns, relation.types, strict=True)}
        columns = ", ".join(
            f"{preparer.quote(column)} {_SPARK_TYPES[kind]}" for column, kind in types.items()
        )
        with engine.connect() as connection:
            connection.exec_driver_sql(f"DROP TABLE IF EXISTS {name}")
            connection.exec_driver_sql(f"CREATE TABLE {name} ({columns}) USING parquet")
            details = connection.exec_driver_sql(f"DESCRIBE TABLE EXTENDED {name}").all()
            location = next(row[1] for row in details if row[0] == "Location")
            directory = Path(location.removeprefix("file:"))
            directory.mkdir(parents=True, exist_ok=True)
            selected = ", ".join(
                f'CAST("{column}" AS {_PARQUET_TYPES.get(kind, kind)}) AS "{column}"'
                for column, kind in types.items()
            )
            typed = relation.query("frame", f"SELECT {selected} FROM frame")
            if typed is None:  # DuckDB returns no relation only for a statement that is not a query
                raise RuntimeError(f"DuckDB returned no rows for the typed SELECT of {name}")
            typed.write_parquet(str(directory / "part-00000.parquet"))
            connection.exec_driver_sql(f"REFRESH TABLE {name}")
