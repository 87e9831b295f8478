"""Running `retrain-gate` as a user does, in its own process, for the operational-edge tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from airflow_retrain_gate.demo.catalog import DEMO_AS_OF

CLI = [sys.executable, "-m", "airflow_retrain_gate.cli"]


def diagnose_args(policy: Path, warehouse: str, *extra: str, verbose: bool = False) -> list[str]:
    """The command line of one `diagnose` at the demo's as_of (`verbose` logs progress to stderr)."""
    return [
        *CLI,
        *(["--verbose"] if verbose else []),
        "diagnose",
        "--policy",
        str(policy),
        "--warehouse",
        warehouse,
        "--as-of",
        DEMO_AS_OF.isoformat(),
        *extra,
    ]


def run_diagnose(
    policy: Path, warehouse: str, *extra: str, verbose: bool = False, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run one `diagnose` to its end and capture what it printed."""
    return subprocess.run(
        diagnose_args(policy, warehouse, *extra, verbose=verbose),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def write_policy(folder: Path, policy: dict[str, Any], name: str = "policy.yaml") -> Path:
    """Write a policy as YAML and return its path."""
    path = folder / name
    path.write_text(yaml.safe_dump(policy))
    return path
