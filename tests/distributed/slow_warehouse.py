"""A warehouse schema whose features answer slowly when asked to: views over a story's tables, where any query
reaching the current window waits while a row sits in ``<schema>.hold``. A test holds the gate mid-run, kills
the worker running it, and releases the hold for the retry.

Only the current window waits, so a gate has cached its reference features profile by the time it is held.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

SOURCE_STORY = "concept_drift"
"""The story the views show: its gate trains."""
SLOW_SCHEMA = f"slow_{SOURCE_STORY}"
TABLES = ("features", "predictions", "outcomes", "overrides", "events", "training_signals")
CURRENT_FROM = "2024-05-01"
"""Rows from this instant on are in the current window of the demo's as_of (2024-06-01), none in the reference."""


def create_slow_schema(engine: Engine) -> None:
    """Create the schema: a view per story table, the features view waiting on the hold (held from the start)."""
    waiting = f"""
        CREATE FUNCTION {SLOW_SCHEMA}.released(ts timestamp) RETURNS boolean LANGUAGE plpgsql COST 1000000 AS $$
        BEGIN
          IF ts >= '{CURRENT_FROM}' THEN
            WHILE EXISTS (SELECT 1 FROM {SLOW_SCHEMA}.hold) LOOP PERFORM pg_sleep(0.2); END LOOP;
          END IF;
          RETURN true;
        END $$"""
    # The high COST makes PostgreSQL test the query's own window first, so reference rows never wait.
    with engine.begin() as connection:
        connection.exec_driver_sql(f"CREATE SCHEMA {SLOW_SCHEMA}")
        connection.exec_driver_sql(f"CREATE TABLE {SLOW_SCHEMA}.hold (since timestamptz DEFAULT now())")
        connection.exec_driver_sql(f"INSERT INTO {SLOW_SCHEMA}.hold DEFAULT VALUES")
        connection.exec_driver_sql(waiting)
        for table in TABLES:
            condition = f" WHERE {SLOW_SCHEMA}.released(event_ts)" if table == "features" else ""
            connection.exec_driver_sql(
                f"CREATE VIEW {SLOW_SCHEMA}.{table} AS SELECT * FROM {SOURCE_STORY}.{table}{condition}"
            )


def held_queries(engine: Engine) -> int:
    """How many queries wait on the hold right now."""
    with engine.connect() as connection:
        return int(
            connection.execute(
                sa.text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND state = 'active' AND wait_event = 'PgSleep' AND query LIKE :view"
                ),
                {"view": f"%{SLOW_SCHEMA}.features%"},
            ).scalar_one()
        )


def release(engine: Engine) -> None:
    """Let waiting and future queries through."""
    with engine.begin() as connection:
        connection.exec_driver_sql(f"DELETE FROM {SLOW_SCHEMA}.hold")
