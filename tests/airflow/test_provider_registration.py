"""Airflow discovers the package as a provider: `airflow providers list` and `providers hooks` show it."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
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


PLUGIN_LOAD = """
import json, sys
import airflow_retrain_gate.plugins.retrain_gate_plugin as plugin
heavy = ["airflow_retrain_gate.core", "airflow_retrain_gate.plugins.app", "fastapi", "pandas", "scipy"]
loaded = [module for module in heavy if module in sys.modules]
from airflow.api_fastapi.app import API_ROOT_PATH
print(json.dumps({"loaded": loaded, "ours": plugin.api_root_path(), "airflows": API_ROOT_PATH, "pages": plugin.PAGES}))
"""


def test_task_processes_load_the_plugin_without_its_pages_or_the_core() -> None:
    """Every task loads every plugin for its macros: ours must not import pandas, scipy or FastAPI there."""
    env = {**os.environ, "AIRFLOW__API__BASE_URL": "https://gate.example/airflow"}
    run = subprocess.run(
        [sys.executable, "-c", PLUGIN_LOAD], env=env, capture_output=True, text=True, check=True
    )

    loaded = json.loads(run.stdout.splitlines()[-1])
    assert loaded["loaded"] == []
    assert loaded["ours"] == loaded["airflows"] == "/airflow/"
    assert loaded["pages"] == "/airflow/retrain-gate"


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


def test_the_connection_form_labels_and_explains_the_warehouse_fields() -> None:
    from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService
    from airflow.providers_manager import ProvidersManager

    behaviour = ProvidersManager().field_behaviours["retrain_gate_warehouse"]
    assert behaviour["relabeling"]["schema"] == "Database"

    form = {meta.connection_type: meta for meta in HookMetaService.hook_meta_data()}["retrain_gate_warehouse"]
    assert form.hook_name == "Retrain gate warehouse"
    assert form.standard_fields.url_schema.title == "Database"
    assert "DuckDB/SQLite file path" in form.standard_fields.url_schema.placeholder
    assert form.extra_fields["sqlalchemy_url"]["schema"]["title"] == "Warehouse URL"
    assert form.extra_fields["read_only"]["value"] is True
    assert "connection test" in form.extra_fields["policies"]["description"]
    assert form.extra_fields["state_database"]["value"] is True
