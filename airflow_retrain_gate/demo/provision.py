"""The demo warehouse behind the example DAGs: where it lives, the connections naming it, built once on first use.

``python -m airflow_retrain_gate.demo.provision URL`` builds it into any database (docker-compose seeds its
PostgreSQL warehouse so).
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
from collections.abc import Iterable
from pathlib import Path

import sqlalchemy as sa

from airflow_retrain_gate.demo.catalog import build_demo_warehouse
from airflow_retrain_gate.demo.stories import STORIES

DEMO_WAREHOUSE_CONN_ID = "retrain_gate_demo"
"""The example DAGs' warehouse connection."""
DEMO_STATE_CONN_ID = "retrain_gate_demo_state"
"""The example DAGs' state database (decision log), apart from the read-only DuckDB warehouse."""


def demo_home() -> Path:
    """Where the demo keeps its files: `$RETRAIN_GATE_DEMO_HOME`, default ./demo_home."""
    return Path(os.environ.get("RETRAIN_GATE_DEMO_HOME", "demo_home")).resolve()


def demo_warehouse_path() -> Path:
    """The DuckDB file of the demo warehouse: `$RETRAIN_GATE_DEMO_WAREHOUSE`, default in the demo home."""
    configured = os.environ.get("RETRAIN_GATE_DEMO_WAREHOUSE")
    return Path(configured).resolve() if configured else demo_home() / "retrain_gate_demo.duckdb"


def demo_connection_env() -> dict[str, str]:
    """`AIRFLOW_CONN_*` variables for the demo's warehouse (DuckDB, read-only) and state (SQLite) connections."""
    connections = {
        DEMO_WAREHOUSE_CONN_ID: {"sqlalchemy_url": f"duckdb:///{demo_warehouse_path()}", "read_only": True},
        DEMO_STATE_CONN_ID: {"sqlalchemy_url": f"sqlite:///{demo_home() / 'retrain_gate_state.sqlite'}"},
    }
    return {
        f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps({"conn_type": "retrain_gate_warehouse", "extra": extra})
        for conn_id, extra in connections.items()
    }


def ensure_demo_warehouse(url: str, stories: Iterable[str] = STORIES) -> None:
    """Build the demo warehouse into `url` unless it is there; safe when many tasks call it at once.

    A DuckDB file gets every story, built under a temporary name and renamed into place, so readers never
    open a half-written file; other databases get the schemas of those `stories` that are missing.
    """
    database = sa.engine.make_url(url).database
    if url.startswith("duckdb") and database and database != ":memory:":
        _ensure_duckdb_file(Path(database))
        return
    engine = sa.create_engine(url)
    try:
        inspector = sa.inspect(engine)
        missing = [name for name in stories if not inspector.has_table("features", schema=name)]
    finally:
        engine.dispose()
    if missing:
        build_demo_warehouse(url, missing)


def _ensure_duckdb_file(path: Path) -> None:
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if path.exists():
            return
        building = path.with_name(f"{path.name}.building-{os.getpid()}")
        build_demo_warehouse(f"duckdb:///{building}")
        os.replace(building, path)


def main(argv: list[str] | None = None) -> int:
    """Build the demo warehouse into the database at the given SQLAlchemy URL unless it is there."""
    parser = argparse.ArgumentParser(
        prog="python -m airflow_retrain_gate.demo.provision", description=main.__doc__
    )
    parser.add_argument("url", help="SQLAlchemy URL, e.g. postgresql+psycopg2://user:password@host/warehouse")
    url = parser.parse_args(argv).url
    ensure_demo_warehouse(url)
    print(f"demo warehouse ready at {sa.engine.make_url(url).render_as_string(hide_password=True)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
