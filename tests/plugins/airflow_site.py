"""The Airflow site the UI plugin tests run against: its home, configuration and `airflow` commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class AirflowSite:
    """A migrated Airflow home with its configuration as environment variables."""

    home: Path
    config: dict[str, str]
    passwords: dict[str, str]

    @property
    def env(self) -> dict[str, str]:
        """The environment of a process that runs against this site."""
        return {**os.environ, **self.config}

    def airflow(self, *args: str, timeout: float = 180) -> str:
        """Run an `airflow` command of this site; returns its output, fails the test if it fails."""
        done = subprocess.run(
            [sys.executable, "-m", "airflow", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert done.returncode == 0, (
            f"airflow {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
        )
        return done.stdout


def connection(url: str, **extra: Any) -> str:
    """An `AIRFLOW_CONN_*` value for the WarehouseHook's connection type."""
    return json.dumps({"conn_type": "retrain_gate_warehouse", "extra": {"sqlalchemy_url": url, **extra}})
