"""The hostname a test worker reports to Airflow (``[core] hostname_callable``): both workers share this machine,
so each names itself from its environment, as two hosts would differ."""

from __future__ import annotations

import os

HOSTNAME_VARIABLE = "RETRAIN_GATE_WORKER_HOSTNAME"


def hostname() -> str:
    """This worker's name, from ``$RETRAIN_GATE_WORKER_HOSTNAME``."""
    return os.environ[HOSTNAME_VARIABLE]
