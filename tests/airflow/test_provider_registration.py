"""Airflow discovers the package as a provider: `airflow providers list` and `providers hooks` show it."""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable

from airflow_retrain_gate.get_provider_info import get_provider_info


def test_provider_info_satisfies_airflows_schema() -> None:
    import jsonschema
    from airflow.providers_manager import ProvidersManager

    info = get_provider_info()
    jsonschema.validate(info, ProvidersManager()._provider_schema_validator.schema)
    assert info["package-name"] == "airflow-retrain-gate"
    for plugin in info["plugins"]:
        module, _, name = plugin["plugin-class"].rpartition(".")
        assert getattr(importlib.import_module(module), name).name == plugin["name"]


def test_airflow_cli_lists_the_provider_and_its_hook(airflow_cli: Callable[..., str]) -> None:
    providers = {
        item["package_name"]: item for item in json.loads(airflow_cli("providers", "list", "-o", "json"))
    }
    assert providers["airflow-retrain-gate"]["version"] == "0.1.0"

    hooks = {
        item["connection_type"]: item for item in json.loads(airflow_cli("providers", "hooks", "-o", "json"))
    }
    assert hooks["retrain_gate_warehouse"]["class"] == "airflow_retrain_gate.hooks.warehouse.WarehouseHook"
    assert hooks["retrain_gate_warehouse"]["package_name"] == "airflow-retrain-gate"
