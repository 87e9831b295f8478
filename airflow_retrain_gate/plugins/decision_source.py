"""Where the UI plugin reads the decision log: the state database of `[retrain_gate] state_conn_id`."""

from __future__ import annotations

from functools import lru_cache

import sqlalchemy as sa
from airflow.configuration import conf
from sqlalchemy.pool import NullPool

from airflow_retrain_gate.core import DecisionLog, StateStore
from airflow_retrain_gate.hooks.warehouse import WarehouseHook, sqlalchemy_url_of

CONFIG_SECTION = "retrain_gate"
DEFAULT_STATE_CONN_ID = "warehouse_default"


def state_conn_id() -> str:
    """The connection whose state database holds the decision log (env `AIRFLOW__RETRAIN_GATE__STATE_CONN_ID`)."""
    return conf.get(CONFIG_SECTION, "state_conn_id", fallback=DEFAULT_STATE_CONN_ID) or DEFAULT_STATE_CONN_ID


@lru_cache(maxsize=8)
def decision_log(conn_id: str) -> DecisionLog:
    """The decision log on connection `conn_id`, kept for the life of the api-server process.

    DuckDB allows one writing process per file, so the api-server opens a DuckDB state file only for
    the duration of each query (no pool) and the gate's tasks can write between page views.
    """
    url = sqlalchemy_url_of(WarehouseHook(conn_id).connection)
    pooling = {"poolclass": NullPool} if url.get_backend_name() == "duckdb" else {"pool_pre_ping": True}
    return DecisionLog(StateStore(sa.create_engine(url, **pooling)))
