"""The `spark://host:10000/database` SQLAlchemy dialect: Spark SQL's Thrift server through PyHive's driver.

PyHive's own `hive://` dialect targets Hive 1.x under SQLAlchemy 1.x. This subclass keeps its driver and fixes
what differs on Spark SQL under SQLAlchemy 2: literals are rendered the way Spark parses them, identifiers are
quoted with backticks, tables are listed and described by Spark's own output, and dates come back as dates.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from pyhive import hive
from pyhive.sqlalchemy_hive import HiveCompiler, HiveDialect, HiveIdentifierPreparer, HiveTypeCompiler
from sqlalchemy.sql import compiler

SESSION_SETTINGS = {"spark.sql.session.timeZone": "UTC", "spark.sql.ansi.enabled": "false"}
"""Set when each session opens: timestamps read and compared in UTC, and the gate's guards (NULL for a bad cast,
not an error) behave as on the other dialects."""
_TYPES: dict[str, type[sa.types.TypeEngine[Any]]] = {
    "boolean": sa.Boolean,
    "tinyint": sa.SmallInteger,
    "smallint": sa.SmallInteger,
    "int": sa.Integer,
    "integer": sa.Integer,
    "bigint": sa.BigInteger,
    "long": sa.BigInteger,
    "float": sa.Float,
    "real": sa.Float,
    "double": sa.Double,
    "decimal": sa.Numeric,
    "numeric": sa.Numeric,
    "string": sa.String,
    "varchar": sa.String,
    "char": sa.String,
    "date": sa.Date,
    "timestamp": sa.DateTime,
    "timestamp_ntz": sa.DateTime,
    "timestamp_ltz": sa.DateTime,
}
"""Spark SQL's type names (DESCRIBE output, lower case, before any `(`): every timestamp is read as naive UTC,
since each session's time zone is UTC (SESSION_SETTINGS)."""


def spark_literal(value: Any) -> str:
    """`value` as a Spark SQL literal: doubles with the D suffix (a bare 0.5 is a DECIMAL there), strings with
    backslashes escaped (Spark reads backslash escapes in string literals), typed dates and timestamps."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) + "D" if math.isfinite(value) else f"CAST('{value}' AS DOUBLE)"
    if isinstance(value, datetime):
        return f"TIMESTAMP_NTZ '{value.replace(tzinfo=None).isoformat(sep=' ')}'"
    if isinstance(value, date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(value, list | tuple):
        return "(" + ", ".join(spark_literal(item) for item in value) + ")"
    raise sa.exc.ArgumentError(f"cannot bind a {type(value).__name__} in Spark SQL")


def limit_statement_time(connection: sa.Connection, timeout_s: float) -> None:
    """Have the Thrift server cancel a statement of this session that runs past `timeout_s` (sent once per session
    and value). Spark SQL has no read-only transactions: the gate sends it only SELECT, SHOW and DESCRIBE, and
    a role with SELECT grants only is the server's to enforce."""
    seconds = max(1, math.ceil(timeout_s))
    if connection.info.get("spark_query_timeout") != seconds:
        connection.exec_driver_sql(f"SET spark.sql.thriftServer.queryTimeout={seconds}")
        connection.info["spark_query_timeout"] = seconds


class SparkIdentifierPreparer(HiveIdentifierPreparer):
    """Backtick quoting, a backtick inside a name doubled (PyHive escapes double quotes instead)."""

    def __init__(self, dialect: sa.Dialect) -> None:
        compiler.IdentifierPreparer.__init__(self, dialect, initial_quote="`", escape_quote="`")


class SparkTypeCompiler(HiveTypeCompiler):
    """Hive's type names, but a DATE stays a DATE (Hive 1 had none)."""

    def visit_DATE(self, type_: sa.Date, **kw: Any) -> str:
        return "DATE"

    def visit_DOUBLE(self, type_: sa.Double, **kw: Any) -> str:
        return "DOUBLE"


class _SparkDate(sa.Date):
    """A DATE result: the Thrift server sends dates as ISO text."""

    def result_processor(self, dialect: sa.Dialect, coltype: object) -> Any:
        return lambda value: date.fromisoformat(value) if isinstance(value, str) else value


class SparkDialect(HiveDialect):
    """Spark SQL's Thrift server (HiveServer2 protocol), e.g. `spark://gate@spark-thrift:10000/analytics`."""

    name = "spark"
    driver = "pyhive"
    preparer = SparkIdentifierPreparer
    statement_compiler = HiveCompiler
    type_compiler_cls = SparkTypeCompiler
    type_compiler = SparkTypeCompiler
    supports_statement_cache = True
    colspecs = {sa.Date: _SparkDate}

    @classmethod
    def import_dbapi(cls) -> Any:
        return hive

    def create_connect_args(self, url: sa.URL) -> tuple[list[Any], dict[str, Any]]:
        """PyHive's arguments, with the session settings every gate read relies on."""
        args, kwargs = super().create_connect_args(url)
        kwargs["configuration"] = {**SESSION_SETTINGS, **kwargs.get("configuration", {})}
        return args, kwargs

    def do_execute(self, cursor: Any, statement: str, parameters: Any, context: Any = None) -> None:
        """Render the parameters as Spark literals here (PyHive's own rendering suits Hive 1)."""
        cursor.execute(statement % {key: spark_literal(value) for key, value in (parameters or {}).items()})

    def do_execute_no_params(self, cursor: Any, statement: str, context: Any = None) -> None:
        cursor.execute(statement)

    def do_close(self, dbapi_connection: Any) -> None:
        """Close the session; the server's closing of its Hive function registry fails on a class pyspark does
        not ship (LLAP's LlapSigner) after the session is gone, which is noise, not an error of ours."""
        try:
            dbapi_connection.close()
        except hive.OperationalError as error:
            if "LlapSigner" not in str(error):
                raise

    def get_table_names(self, connection: sa.Connection, schema: str | None = None, **kw: Any) -> list[str]:
        """Spark's SHOW TABLES answers (namespace, tableName, isTemporary); temporary views are left out."""
        query = "SHOW TABLES" + (f" IN {self.identifier_preparer.quote_identifier(schema)}" if schema else "")
        return [row[1] for row in connection.exec_driver_sql(query) if not row[2]]

    def get_view_names(self, connection: sa.Connection, schema: str | None = None, **kw: Any) -> list[str]:
        """Views are among SHOW TABLES' names already."""
        return []

    def has_table(
        self, connection: sa.Connection, table_name: str, schema: str | None = None, **kw: Any
    ) -> bool:
        return table_name.lower() in {name.lower() for name in self.get_table_names(connection, schema)}

    def get_columns(
        self, connection: sa.Connection, table_name: str, schema: str | None = None, **kw: Any
    ) -> list[dict[str, Any]]:
        """The columns DESCRIBE lists before its partition and detail sections."""
        quote = self.identifier_preparer.quote_identifier
        name = f"{quote(schema)}.{quote(table_name)}" if schema else quote(table_name)
        columns = []
        for column_name, data_type, *_ in connection.exec_driver_sql(f"DESCRIBE {name}"):
            if not column_name or column_name.startswith("#"):
                break
            base = re.match(r"\w+", data_type.lower())
            sql_type = _TYPES.get(base.group(0) if base else "", sa.types.NullType)
            columns.append({"name": column_name, "type": sql_type(), "nullable": True, "default": None})
        return columns

    def _get_server_version_info(self, connection: sa.Connection) -> tuple[int, ...]:
        version = connection.exec_driver_sql("SELECT version()").scalar() or ""
        return tuple(int(part) for part in re.findall(r"\d+", version.split()[0])[:3])

    def _get_default_schema_name(self, connection: sa.Connection) -> str:
        return str(connection.exec_driver_sql("SELECT current_database()").scalar())
