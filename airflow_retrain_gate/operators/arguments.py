"""Arguments the gate's operators and sensors share: the `policy` (a YAML path or a mapping) and `as_of`."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from airflow.sdk import BaseOperator, Context

from airflow_retrain_gate.core import Policy, load_policy, parse_policy
from airflow_retrain_gate.core.timeframes import to_utc

PolicyArgument = str | dict[str, Any]
"""A policy YAML path (relative paths are taken from the DAG file's folder) or the policy as a mapping."""


def dag_folder(task: BaseOperator) -> Path | None:
    """The folder of the task's DAG file, which relative policy paths and `extends` start from."""
    return Path(task.dag.fileloc).parent if task.has_dag() and task.dag.fileloc else None


def load_policy_argument(policy: PolicyArgument, dag_folder: Path | None) -> Policy:
    """Validate a rendered `policy` argument; `extends` and relative paths resolve against `dag_folder`."""
    if isinstance(policy, dict):
        return parse_policy(policy, base_dir=dag_folder)
    path = Path(policy)
    if not path.is_absolute() and dag_folder is not None:
        path = dag_folder / path
    return load_policy(path)


def check_policy_at_parse(policy: PolicyArgument, dag_folder: Path | None) -> None:
    """Validate a policy without Jinja when the DAG is parsed, so a broken policy shows as an import error.

    Templated policies, and XCom or mapped arguments (resolved at run time), are checked when the task runs.
    """
    if not isinstance(policy, str | dict):
        return
    text = policy if isinstance(policy, str) else json.dumps(policy, default=str)
    reads_files = isinstance(policy, str) or "extends" in policy
    if "{{" in text or "{%" in text or (reads_files and dag_folder is None):
        return
    load_policy_argument(policy, dag_folder)


def run_as_of(context: Context, as_of: str | datetime | None) -> datetime:
    """`as_of` when given, else the run's data_interval_end (then its logical date, then run_after) in UTC.

    Context instants are pendulum DateTimes, whose arithmetic drops a stdlib UTC tzinfo; the core gets a
    plain datetime.
    """
    instant = (
        as_of
        or context.get("data_interval_end")
        or context.get("logical_date")
        or context["dag_run"].run_after
    )
    return to_utc(instant if isinstance(instant, str) else instant.isoformat())
