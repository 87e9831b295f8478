"""The diagnostic core: warehouse profiles -> checks -> findings -> policy -> decision. Imports no Airflow."""

from airflow_retrain_gate.core.decision import Decision
from airflow_retrain_gate.core.decision_log import DecisionLog, LogQuery, RunKey
from airflow_retrain_gate.core.findings import Action, Branch, Finding, Status
from airflow_retrain_gate.core.gate import run_gate
from airflow_retrain_gate.core.policy import Policy, PolicyError, load_policy, parse_policy
from airflow_retrain_gate.core.profiling.table_schema import MappingError
from airflow_retrain_gate.core.state import StateStore
from airflow_retrain_gate.core.warehouse import Warehouse, WarehouseError

__all__ = [
    "Action",
    "Branch",
    "Decision",
    "DecisionLog",
    "LogQuery",
    "Finding",
    "MappingError",
    "Policy",
    "PolicyError",
    "RunKey",
    "StateStore",
    "Status",
    "Warehouse",
    "WarehouseError",
    "load_policy",
    "parse_policy",
    "run_gate",
]
