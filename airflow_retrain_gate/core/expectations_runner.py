"""Runs a Great Expectations suite on the current window (imported only when a policy sets a suite).

PostgreSQL, SQLite and other SQL warehouses go through GX's SQL data source with a query asset bounded to the
window, so the database computes every metric. DuckDB goes through GX's pandas data source on the window's
rows (at most ``checks.expectations.max_rows``): GX 1.24's SQL engine fetches results after handing its
connection back to the pool, duckdb-engine then returns no rows, and every metric fails. In-memory SQLite is
read the same way, since a second engine would open a different, empty database.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any, Final

import sqlalchemy as sa

from airflow_retrain_gate.core.expectations_gx import (
    build_expectations,
    ephemeral_context,
    pandas_batch,
    quiet_gx,
    sql_batch,
    to_result,
)
from airflow_retrain_gate.core.expectations_suite import SUITE_FIELD, SuiteError, read_suite, suite_sha256
from airflow_retrain_gate.core.policy import Policy
from airflow_retrain_gate.core.profiling.expectation_result import ExpectationResult
from airflow_retrain_gate.core.profiling.table_source import TableSource
from airflow_retrain_gate.core.scans import Scan
from airflow_retrain_gate.core.timeframes import TimeWindow
from airflow_retrain_gate.core.warehouse import Warehouse, WarehouseError, short_error

log = logging.getLogger("airflow_retrain_gate")
RESULT_FORMAT: Final = "SUMMARY"
"""Counts, observed values and up to 20 unexpected examples: evidence without fetching every bad row."""


def run_expectations(
    warehouse: Warehouse, policy: Policy, window: TimeWindow
) -> tuple[ExpectationResult, ...]:
    """Validate the policy's suite on `window` of the features table: one result per expectation, in order."""
    settings = policy.check_settings("expectations")
    try:
        suite = read_suite(settings.suite)
    except SuiteError as error:
        raise WarehouseError(str(error)) from None
    query = window_query(warehouse, policy, window)
    scan = TableSource.bind(warehouse, policy.tables.features, "tables.features").scan(window)
    in_pandas = uses_pandas(warehouse)
    if in_pandas:
        query = query.limit(settings.max_rows + 1)
    validated_with: dict[str, Any] = {
        "engine": "pandas" if in_pandas else "sql",
        "dialect": warehouse.dialect,
        "query": literal_sql(query, warehouse),
        "suite_sha256": suite_sha256(suite),
    }
    with quiet_gx():
        started = time.perf_counter()
        import great_expectations as gx

        validated_with.update(gx_version=gx.__version__, gx_import_s=round(time.perf_counter() - started, 3))
        context = ephemeral_context()
        gx_suite = gx.ExpectationSuite(
            name=suite.get("name") or "suite", expectations=build_expectations(suite)
        )
        gx_suite = context.suites.add(gx_suite)
        started = time.perf_counter()
        try:
            if in_pandas:
                frame = read_window(warehouse, query, settings.max_rows, scan)
                validated_with.update(rows=len(frame), max_rows=settings.max_rows)
                window_batch = pandas_batch(context, frame)
            else:
                window_batch = sql_batch(context, warehouse, validated_with["query"], scan)
            with window_batch as batch:
                validation = batch.validate(gx_suite, result_format=RESULT_FORMAT)
        except WarehouseError:
            raise
        except Exception as error:  # noqa: BLE001 - GX wraps driver errors in many types: name it and stop
            reason = short_error(error)
            raise WarehouseError(
                f"{SUITE_FIELD}: Great Expectations could not validate the window: {reason}"
            ) from None
        validated_with["validate_s"] = round(time.perf_counter() - started, 3)
    log.info(
        "expectations: suite %r via %s on %s; GX import %.2f s, validation %.2f s",
        gx_suite.name,
        validated_with["engine"],
        warehouse.dialect,
        validated_with["gx_import_s"],
        validated_with["validate_s"],
    )
    order = {expectation.id: index for index, expectation in enumerate(gx_suite.expectations)}
    # A result without its expectation (GX attaches one to every result of a suite) sorts last.
    unknown = len(order)
    results = sorted(
        validation.results,
        key=lambda result: (
            order.get(result.expectation_config.id, unknown)
            if result.expectation_config is not None
            else unknown
        ),
    )
    return tuple(to_result(result, gx_suite.name, validated_with) for result in results)


def window_query(warehouse: Warehouse, policy: Policy, window: TimeWindow) -> sa.Select[Any]:
    """Every column of the features table; only rows in `window` that pass the mapping's filters."""
    source = TableSource.bind(warehouse, policy.tables.features, "tables.features")
    source = dataclasses.replace(source, clause=source.info.clause(list(source.info.columns)))
    return sa.select(source.clause).where(*source.in_window("timestamp", window))


def uses_pandas(warehouse: Warehouse) -> bool:
    """Whether GX validates rows in pandas: on DuckDB, or in-memory SQLite that a second engine cannot see."""
    in_memory = warehouse.engine.url.database in (None, "", ":memory:")
    return warehouse.dialect == "duckdb" or (warehouse.dialect == "sqlite" and in_memory)


def literal_sql(query: sa.Select[Any], warehouse: Warehouse) -> str:
    """The query as SQL text of the warehouse's dialect, window bounds and filters inlined as literals."""
    return str(query.compile(dialect=warehouse.engine.dialect, compile_kwargs={"literal_binds": True}))


def read_window(warehouse: Warehouse, query: sa.Select[Any], max_rows: int, scan: Scan) -> Any:
    """The window's rows as a pandas DataFrame (a `scan` of the table); more than `max_rows` is an error, never a
    silent sample."""
    import pandas as pd

    rows = warehouse.fetch(query, "expectations: current window rows for pandas", (scan,))
    if len(rows) > max_rows:
        raise WarehouseError(
            f"checks.expectations.max_rows: the current window has more than {max_rows:,} rows; on "
            f"{warehouse.dialect} GX validates them in pandas, so raise max_rows (memory permitting) "
            "or shorten windows.current"
        )
    return pd.DataFrame.from_records(rows, columns=list(query.selected_columns.keys()))
