"""WarehouseHook: from an Airflow connection to the gate's Warehouse, for DuckDB URLs, PostgreSQL connections and
drivername connections, without credentials in errors or logs."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from airflow.sdk._shared.secrets_masker import redact
from airflow.sdk.exceptions import AirflowNotFoundException
from scratch_databases import scratch_database

from airflow_retrain_gate.core import WarehouseError
from airflow_retrain_gate.demo.loading import load_tables
from airflow_retrain_gate.demo.stories import build_story, story_policy
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


def test_the_connection_test_reads_and_writes_a_duckdb_file_leaving_nothing_behind(
    define_connection, tmp_path: Path
) -> None:
    from airflow.models.connection import Connection

    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    load_tables(url, build_story("healthy", rows_per_day=5))
    policy = tmp_path / "churn.yaml"
    policy.write_text(yaml.safe_dump(story_policy("healthy")))
    extra = {"sqlalchemy_url": url, "policies": str(policy)}
    define_connection("duck", conn_type="retrain_gate_warehouse", extra=extra)

    ok, message = Connection(
        conn_id="duck", conn_type="retrain_gate_warehouse", extra=json.dumps(extra)
    ).test_connection()

    assert (ok, message) == (
        True,
        "can read the tables of 1 policies and write the state schema 'retrain_gate' (tried in a transaction rolled back)",
    )
    with sa.create_engine(url).connect() as connection:
        schemas = (
            connection.exec_driver_sql("SELECT schema_name FROM information_schema.schemata").scalars().all()
        )
    assert "retrain_gate" not in schemas

    policy.write_text(
        yaml.safe_dump(
            story_policy("healthy") | {"tables": {"features": {"table": "feature", "timestamp": "event_ts"}}}
        )
    )
    ok, message = WarehouseHook("duck").test_connection()
    assert not ok and message.startswith(
        "cannot read what the policies map: tables.features.table: table 'feature' not found"
    )


@pytest.mark.postgres
def test_the_connection_test_names_the_state_schema_a_select_only_role_cannot_write(
    define_connection, postgres_server: str, tmp_path: Path
) -> None:
    reader = f"rg_select_only_{uuid.uuid4().hex[:8]}"
    server = sa.create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    try:
        with scratch_database(postgres_server, "rg_connection_test") as database_url:
            load_tables(database_url, build_story("healthy", rows_per_day=5), schema="ml")
            policy = tmp_path / "churn.yaml"
            policy.write_text(yaml.safe_dump(story_policy("healthy", schema="ml")))
            owner = sa.engine.make_url(database_url)
            for conn_id, login in (("pg_owner", owner.username), ("pg_reader", reader)):
                define_connection(
                    conn_id,
                    conn_type="postgres",
                    host=owner.host,
                    port=owner.port,
                    login=login,
                    schema=owner.database,
                    extra={"policies": str(policy)},
                )
            with server.connect() as connection:
                connection.exec_driver_sql(f'CREATE ROLE "{reader}" LOGIN')

            assert WarehouseHook("pg_owner").test_connection()[0], "the owner can read and write"
            database = sa.create_engine(database_url, isolation_level="AUTOCOMMIT")
            with database.connect() as connection:
                assert not sa.inspect(connection).has_schema("retrain_gate"), (
                    "the write check was rolled back"
                )
                connection.exec_driver_sql(f'GRANT USAGE ON SCHEMA ml TO "{reader}"')
                connection.exec_driver_sql(f'GRANT SELECT ON ml.features TO "{reader}"')
            ok, message = WarehouseHook("pg_reader").test_connection()
            assert (
                not ok
                and "tables.predictions.table" in message
                and "permission denied for table predictions" in message
            )

            with database.connect() as connection:
                connection.exec_driver_sql(f'GRANT SELECT ON ALL TABLES IN SCHEMA ml TO "{reader}"')
                connection.exec_driver_sql("CREATE SCHEMA retrain_gate")
            database.dispose()
            ok, message = WarehouseHook("pg_reader").test_connection()
            assert not ok
            assert message.startswith(
                "cannot write the state schema 'retrain_gate': permission denied for schema retrain_gate. "
            )
            assert "state_conn_id" in message

            define_connection(
                "pg_warehouse_only",
                conn_type="postgres",
                host=owner.host,
                port=owner.port,
                login=reader,
                schema=owner.database,
                extra={"policies": str(policy), "state_database": False},
            )
            assert WarehouseHook("pg_warehouse_only").test_connection() == (
                True,
                "can read the tables of 1 policies (not tried for writes: the extra state_database is false)",
            )
    finally:
        with server.connect() as connection:
            connection.exec_driver_sql(f'DROP ROLE IF EXISTS "{reader}"')
        server.dispose()
