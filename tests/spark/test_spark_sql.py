"""How the gate's SQL is written for Spark SQL: literals, quoting and types (compiled, no server needed)."""

from __future__ import annotations

from datetime import date, datetime

import pytest
import sqlalchemy as sa

pytest.importorskip("pyhive", reason="the spark extra is not installed")

from airflow_retrain_gate.core.spark_dialect import SparkDialect, spark_literal  # noqa: E402
from airflow_retrain_gate.core.sql import day_of, equal_width_bucket  # noqa: E402


def compiled(expression: sa.ClauseElement) -> str:
    return str(expression.compile(dialect=SparkDialect()))


def test_a_double_parameter_is_a_double_literal() -> None:
    """A bare 0.5 is a DECIMAL in Spark SQL: a sum of them would come back as text."""
    assert spark_literal(0.5) == "0.5D"
    assert spark_literal(1.7976931348623157e308) == "1.7976931348623157e+308D"
    assert spark_literal(float("nan")) == "CAST('nan' AS DOUBLE)"


def test_a_string_parameter_escapes_backslashes_and_quotes() -> None:
    assert spark_literal("it's a \\' trap") == "'it\\'s a \\\\\\' trap'"


def test_times_are_typed_literals() -> None:
    assert spark_literal(datetime(2024, 6, 1, 12, 30)) == "TIMESTAMP_NTZ '2024-06-01 12:30:00'"
    assert spark_literal(date(2024, 6, 1)) == "DATE '2024-06-01'"
    assert spark_literal(["a", 1]) == "('a', 1)"


def test_identifiers_are_backticked_with_backticks_doubled() -> None:
    table = sa.table("odd`name", sa.column("value"), schema="analytics")
    assert compiled(sa.select(table.c.value)) == "SELECT `odd``name`.`value` \nFROM `analytics`.`odd``name`"


def test_portable_expressions_compile_to_spark_sql() -> None:
    value = sa.column("v", sa.Double)
    assert compiled(day_of(sa.column("ts"))) == "CAST(`ts` AS DATE)"
    assert compiled(sa.cast(value, sa.Date)) == "CAST(`v` AS DATE)"
    assert "CAST(FLOOR((`v` - " in compiled(equal_width_bucket(value, 0.0, 1.0, 10))
