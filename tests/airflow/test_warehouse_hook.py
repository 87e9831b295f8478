"""WarehouseHook: from an Airflow connection to the gate's Warehouse, for DuckDB URLs, PostgreSQL connections and
drivername connections, without credentials in errors or logs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from airflow.sdk._shared.secrets_masker import redact
from airflow.sdk.exceptions import AirflowNotFoundException

from airflow_retrain_gate.core import WarehouseError
from airflow_retrain_gate.hooks.warehouse import WarehouseHook

PASSWORD = "pw-Zr4-never-shown"


@pytest.fixture
def define_connection(monkeypatch: pytest.MonkeyPatch):
    """Define an Airflow connection for one test, as an AIRFLOW_CONN_* variable."""

    def define(conn_id: str, **fields: object) -> None:
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(fields))

    return define


def test_a_sqlalchemy_url_extra_opens_a_read_only_duckdb_warehouse(
    define_connection, demo_warehouse: str
) -> None:
    define_connection(
        "duck",
        conn_type="generic",
        extra={"sqlalchemy_url": demo_warehouse, "read_only": True, "statement_timeout_s": 30},
    )

    warehouse = WarehouseHook("duck").get_warehouse()
    try:
        assert warehouse.dialect == "duckdb" and warehouse.statement_timeout_s == 30
        assert "engagement_rate" in warehouse.describe("healthy.features", "tables.features").columns
        with warehouse.engine.connect() as connection, pytest.raises(sa.exc.DBAPIError, match="read-only"):
            connection.exec_driver_sql("CREATE TABLE healthy.scratch (x INTEGER)")
    finally:
        warehouse.dispose()


@pytest.mark.postgres
def test_a_postgres_connection_uses_the_postgres_providers_url_and_masks_the_password(
    define_connection, postgres_server: str
) -> None:
    server = sa.engine.make_url(postgres_server)
    define_connection(
        "pg",
        conn_type="postgres",
        host=server.host,
        port=server.port,
        login=server.username,
        password=PASSWORD,  # the test server trusts local connections, so any password is accepted
        schema=server.database,
        extra={"sqlalchemy_scheme": "postgresql+psycopg2", "statement_timeout_s": 10},
    )
    hook = WarehouseHook("pg")

    warehouse = hook.get_warehouse()
    try:
        assert hook.sqlalchemy_url.drivername == "postgresql+psycopg2"
        assert warehouse.fetch(sa.select(sa.literal(1).label("one")), "ping")[0].one == 1
        assert PASSWORD not in repr(warehouse.engine.url) and PASSWORD not in str(warehouse.engine)
        assert PASSWORD not in redact(
            f"connecting with {hook.sqlalchemy_url.render_as_string(hide_password=False)}"
        )
    finally:
        warehouse.dispose()


def test_a_drivername_extra_builds_the_url_from_the_connection_fields(
    define_connection, tmp_path: Path
) -> None:
    define_connection(
        "lite",
        conn_type="retrain_gate_warehouse",
        schema=str(tmp_path / "w.sqlite"),
        extra={"drivername": "sqlite"},
    )

    store = WarehouseHook("lite").get_state_store()
    try:
        assert store.migrate() >= 1  # the state database's tables can be written there
        assert (tmp_path / "w.sqlite").exists()
    finally:
        store.dispose()


def test_an_undefined_connection_is_named_in_the_error() -> None:
    with pytest.raises(AirflowNotFoundException, match="connection 'missing_warehouse' is not defined"):
        WarehouseHook("missing_warehouse").get_warehouse()


def test_a_connection_without_a_url_says_what_to_set(define_connection) -> None:
    define_connection("bare", conn_type="http", host="example.com")

    with pytest.raises(WarehouseError, match="connection 'bare' .* set the extra 'sqlalchemy_url'"):
        WarehouseHook("bare").get_warehouse()


def test_an_unparsable_url_is_reported_without_its_credentials(define_connection) -> None:
    define_connection(
        "typo", conn_type="generic", extra={"sqlalchemy_url": f"postgresql://gate:{PASSWORD}@db:port/x"}
    )

    with pytest.raises(WarehouseError) as error:
        WarehouseHook("typo").get_warehouse()

    assert "connection 'typo'" in str(error.value) and PASSWORD not in str(error.value)
