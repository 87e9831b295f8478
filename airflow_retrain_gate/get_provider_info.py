"""Provider metadata for Airflow's providers manager (the `apache_airflow_provider` entry point)."""

from __future__ import annotations

from typing import Any

from airflow_retrain_gate import __version__

INTEGRATION = "Retrain gate"
CONNECTION_FIELDS: dict[str, dict[str, Any]] = {
    "sqlalchemy_url": {
        "label": "Warehouse URL",
        "schema": {"type": ["string", "null"]},
        "description": "Any SQLAlchemy URL, e.g. duckdb:////data/warehouse.duckdb or snowflake://...; "
        "when set, it wins over the host, login and database fields.",
    },
    "drivername": {
        "label": "SQLAlchemy driver",
        "schema": {"type": ["string", "null"]},
        "description": "Dialect for the host, port, login, password and database fields, e.g. snowflake or "
        "trino (a postgres connection type needs none).",
    },
    "read_only": {
        "label": "Open DuckDB/SQLite files read-only",
        "schema": {"type": ["boolean", "null"], "default": True},
    },
    "statement_timeout_s": {
        "label": "Statement timeout (seconds)",
        "schema": {"type": ["number", "null"]},
        "description": "Wins over the policy's warehouse.statement_timeout.",
    },
    "connect_timeout_s": {"label": "Connect timeout (seconds)", "schema": {"type": ["number", "null"]}},
    "retries": {
        "label": "Retries of a read",
        "schema": {"type": ["integer", "null"], "default": 0},
        "description": "After a refused or lost connection.",
    },
    "concurrency": {"label": "Queries at once", "schema": {"type": ["integer", "null"]}},
    "state_database": {
        "label": "Also the state database",
        "schema": {"type": ["boolean", "null"], "default": True},
        "description": "Whether gates write their decision log here (their state_conn_id); the connection test "
        "then tries a write in the schema retrain_gate. Clear it for a read-only warehouse role.",
    },
    "policies": {
        "label": "Policies to test",
        "schema": {"type": ["string", "null"]},
        "description": "Policy files, separated by commas and relative to the DAGs folder, whose tables the "
        "connection test reads.",
    },
}
"""Fields of the connection form, stored in the extra under their names (what WarehouseHook reads)."""


def get_provider_info() -> dict[str, Any]:
    """The provider's description, modules, connection type and extra links, in Airflow's schema."""
    return {
        "package-name": "airflow-retrain-gate",
        "name": "Retrain gate",
        "description": "Decides whether a model should be retrained, its features fixed, a person alerted, "
        "or nothing done, from aggregates computed in the warehouse.",
        "versions": [__version__],
        "integrations": [{"integration-name": INTEGRATION, "tags": ["software"]}],
        "operators": [
            {
                "integration-name": INTEGRATION,
                "python-modules": [
                    "airflow_retrain_gate.operators.gate",
                    "airflow_retrain_gate.operators.review",
                ],
            }
        ],
        "sensors": [
            {"integration-name": INTEGRATION, "python-modules": ["airflow_retrain_gate.sensors.readiness"]}
        ],
        "triggers": [
            {"integration-name": INTEGRATION, "python-modules": ["airflow_retrain_gate.triggers.readiness"]}
        ],
        "hooks": [
            {"integration-name": INTEGRATION, "python-modules": ["airflow_retrain_gate.hooks.warehouse"]}
        ],
        "connection-types": [
            {
                "connection-type": "retrain_gate_warehouse",
                "hook-class-name": "airflow_retrain_gate.hooks.warehouse.WarehouseHook",
                "hook-name": "Retrain gate warehouse",
                "ui-field-behaviour": {
                    "hidden-fields": [],
                    "relabeling": {"schema": "Database", "host": "Host (server warehouses)"},
                    "placeholders": {
                        "host": "warehouse.internal (leave empty when the Warehouse URL is set)",
                        "schema": "analytics (the database, or a DuckDB/SQLite file path)",
                        "port": "5432",
                        "login": "a role that may SELECT the mapped tables",
                    },
                },
                "conn-fields": CONNECTION_FIELDS,
            }
        ],
        "config": {
            "retrain_gate": {
                "description": "Settings of the retrain gate's UI plugin.",
                "options": {
                    "state_conn_id": {
                        "description": "Connection of the state database whose decision log the UI pages read "
                        "(the gates' state_conn_id, which defaults to their warehouse connection).",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "retrain_gate_state",
                        "default": "warehouse_default",
                    }
                },
            }
        },
        "extra-links": ["airflow_retrain_gate.operators.links.RetrainGateDecisionLink"],
        # Also an `airflow.plugins` entry point: Airflow loads provider plugins only when it discovers
        # providers eagerly (`[core] lazy_discover_providers = False`).
        "plugins": [
            {
                "name": "retrain_gate",
                "plugin-class": "airflow_retrain_gate.plugins.retrain_gate_plugin.RetrainGatePlugin",
            }
        ],
    }
