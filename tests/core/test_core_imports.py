"""The diagnostic core and the CLI import no Airflow: they run where Airflow is not installed."""

from __future__ import annotations

import json
import subprocess
import sys

IMPORT_EVERYTHING = """
import importlib, json, pkgutil, sys
import airflow_retrain_gate.core as core
names = ["airflow_retrain_gate.cli"] + [
    module.name for module in pkgutil.walk_packages(core.__path__, prefix="airflow_retrain_gate.core.")
]
for name in names:
    importlib.import_module(name)
loaded = sorted(
    name for name in sys.modules
    if (name == "airflow" or name.startswith("airflow.")) and not name.startswith("airflow_retrain_gate")
)
print(json.dumps({"imported": names, "airflow": loaded}))
"""


def test_every_core_module_and_the_cli_import_without_airflow() -> None:
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_EVERYTHING], capture_output=True, text=True, check=True, timeout=120
    )

    report = json.loads(result.stdout.splitlines()[-1])
    assert "airflow_retrain_gate.core.gate" in report["imported"]
    assert "airflow_retrain_gate.core.checks.drift" in report["imported"]
    assert report["airflow"] == []
