"""Everything that touches Great Expectations objects; GX is imported inside the functions, on first use."""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from airflow_retrain_gate.core.engines import is_read_only
from airflow_retrain_gate.core.expectations_suite import SUITE_FIELD
from airflow_retrain_gate.core.findings import json_safe
from airflow_retrain_gate.core.profiling.expectation_result import ExpectationResult
from airflow_retrain_gate.core.scans import Scan
from airflow_retrain_gate.core.warehouse import QueryRecord, Warehouse, WarehouseError

if TYPE_CHECKING:
    from great_expectations.data_context import AbstractDataContext
    from great_expectations.datasource.fluent.interfaces import Batch

ASSET = "current_window"
QUERY_CLOCK = "retrain_gate_query_started"
COLUMN_PROBE = "AS column_probe WHERE 1 = 0"
EXPECTATION_FIELDS = ("type", "kwargs", "meta", "notes", "description", "severity")
"""Fields of a suite's expectation that GX 1.x accepts (``id`` and ``rendered_content`` are GX's own)."""
TYPE_EXPECTATIONS = frozenset(
    {"expect_column_values_to_be_of_type", "expect_column_values_to_be_in_type_list"}
)
"""Expectations on column types, which GX 1.24 cannot evaluate on a query asset: it reflects only names there."""


@contextmanager
def quiet_gx() -> Iterator[None]:
    """Silence GX's import-time INFO chatter and its warnings while it runs; its errors still get through."""
    logger = logging.getLogger("great_expectations")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def ephemeral_context() -> AbstractDataContext:
    """An in-memory GX context: nothing written to disk, analytics off, no progress bars."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def build_expectations(suite: dict[str, Any]) -> list[Any]:
    """GX expectation objects of the suite; an invalid one is an error naming it (GX would log and drop it)"""
    import great_expectations as gx
    from great_expectations.exceptions import GreatExpectationsError
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    expectations = []
    for index, item in enumerate(suite["expectations"]):
        fields = {"kwargs": {}, **{key: value for key, value in item.items() if key in EXPECTATION_FIELDS}}
        try:
            expectations.append(ExpectationConfiguration(**fields).to_domain_obj())
        except (GreatExpectationsError, TypeError, ValueError) as error:
            message = getattr(error, "message", None) or str(error)
            raise WarehouseError(
                f"{SUITE_FIELD}: expectations[{index}] ({item['type']}) is not valid in GX {gx.__version__}: "
                f"{message}"
            ) from None
    return expectations


@contextmanager
def pandas_batch(context: AbstractDataContext, frame: Any) -> Iterator[Batch]:
    """A GX batch over an in-memory DataFrame."""
    asset = context.data_sources.add_pandas("warehouse").add_dataframe_asset(ASSET)
    yield asset.add_batch_definition_whole_dataframe(ASSET).get_batch(batch_parameters={"dataframe": frame})


@contextmanager
def sql_batch(
    context: AbstractDataContext, warehouse: Warehouse, query_sql: str, scan: Scan
) -> Iterator[Batch]:
    """A GX batch over a query asset; GX wraps `query_sql` (a `scan` of the table) as a subquery, so the database
    applies it."""
    from great_expectations.datasource.fluent import PostgresDatasource, SQLDatasource, SqliteDatasource

    # Built here and passed whole: GX's typed add_* stubs omit the `kwargs` (engine arguments) its models take.
    datasource_type: type[SQLDatasource] = {"postgresql": PostgresDatasource, "sqlite": SqliteDatasource}.get(
        warehouse.dialect, SQLDatasource
    )
    datasource = context.data_sources.add_sql(
        datasource_type(
            name="warehouse",
            connection_string=warehouse.engine.url.render_as_string(hide_password=False),
            kwargs=engine_kwargs(warehouse),
        )
    )
    engine = datasource.get_execution_engine().engine
    sa.event.listen(engine, "before_cursor_execute", _probe_columns_without_rows(query_sql), retval=True)
    _log_queries(engine, warehouse, query_sql, scan)
    try:
        asset = datasource.add_query_asset(name=ASSET, query=query_sql)
        yield asset.add_batch_definition_whole_table(ASSET).get_batch()
    finally:
        engine.dispose()


def _probe_columns_without_rows(query_sql: str) -> Callable[..., tuple[str, Any]]:
    """Turn GX's bare run of the query asset into one that returns no rows.

    GX 1.24 learns a query asset's column names by running the query itself and reading only the cursor's
    description; client-side cursors (psycopg2, psycopg) would pull every row of the window for that. Every
    metric wraps the query as a subquery, so only that probe matches the query text exactly.
    """

    def rewrite(connection: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> tuple[str, Any]:
        if statement.strip() == query_sql.strip():
            return f"SELECT * FROM ({statement.strip()}) {COLUMN_PROBE}", parameters
        return statement, parameters

    return rewrite


def _log_queries(engine: sa.Engine, warehouse: Warehouse, query_sql: str, scan: Scan) -> None:
    """Record GX's statements in the warehouse's query log, so the decision counts them with the gate's own: each
    copy of `query_sql` in a statement reads the table once (the column probe, WHERE 1 = 0, reads nothing)."""

    def started(connection: sa.Connection, *args: Any) -> None:
        connection.info.setdefault(QUERY_CLOCK, []).append(time.perf_counter())

    def finished(connection: sa.Connection, cursor: Any, statement: str, *args: Any) -> None:
        seconds = time.perf_counter() - connection.info[QUERY_CLOCK].pop()
        reads = 0 if COLUMN_PROBE in statement else statement.count(query_sql.strip())
        # sqlite3 reports -1 rows for a SELECT; GX reads aggregates and at most 20 examples per query there too.
        warehouse.query_log.add(
            QueryRecord("expectations: GX query", max(cursor.rowcount, 0), seconds, ((scan, reads),))
        )

    sa.event.listen(engine, "before_cursor_execute", started)
    sa.event.listen(engine, "after_cursor_execute", finished)


def engine_kwargs(warehouse: Warehouse) -> dict[str, Any]:
    """GX's engine reads as the warehouse does: on PostgreSQL read-only, UTC, statement timeout."""
    if warehouse.dialect == "duckdb" and is_read_only(warehouse.engine):
        return {"connect_args": {"read_only": True}}  # DuckDB admits one configuration per file and process
    if warehouse.dialect != "postgresql" or warehouse.engine.dialect.driver not in ("psycopg2", "psycopg"):
        return {}
    options = "-c default_transaction_read_only=on -c TimeZone=UTC"
    if warehouse.statement_timeout_s:
        options += f" -c statement_timeout={int(warehouse.statement_timeout_s * 1000)}"
    return {"connect_args": {"options": options}}


def to_result(result: Any, suite_name: str, validated_with: dict[str, Any]) -> ExpectationResult:
    """One GX ExpectationValidationResult in plain JSON values.

    GX's ``to_json_dict`` is not used: under marshmallow 4 it passes numpy booleans through (the quantile
    expectation's ``success`` is a ``numpy.bool``), which ``json.dumps`` rejects.
    """
    config = result.expectation_config
    error = error_message(result.exception_info or {})
    if error is not None and config.type in TYPE_EXPECTATIONS and validated_with["engine"] == "sql":
        error += (
            " (GX sees only column names, not types, through a query asset; the schema check watches types)"
        )
    return ExpectationResult(
        suite=suite_name,
        type=config.type,
        kwargs=json_safe({key: value for key, value in config.kwargs.items() if key != "batch_id"}),
        meta=json_safe(dict(config.meta or {})),
        success=bool(result.success),
        error=error,
        result=json_safe(dict(result.result or {})),
        validated_with=validated_with,
    )


def error_message(exception_info: dict[str, Any]) -> str | None:
    """GX's exception message, reported for the expectation or for each metric it could not compute."""
    reports = [exception_info] if "raised_exception" in exception_info else list(exception_info.values())
    for report in reports:
        if (
            isinstance(report, dict)
            and report.get("raised_exception", True)
            and report.get("exception_message")
        ):
            return str(report["exception_message"]).strip().splitlines()[0][:300]
    return None
