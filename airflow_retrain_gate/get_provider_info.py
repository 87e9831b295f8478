"""Provider metadata for Airflow's providers manager (the `apache_airflow_provider` entry point)."""

from __future__ import annotations

from typing import Any

from airflow_retrain_gate import __version__

INTEGRATION = "Retrain gate"


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
