"""The PostgreSQL roles of docs/scaling.md, created by the page's own SQL: a gate reads the warehouse through the
read-only role, writes its decision and cache through the state role, and decides as with the owner's
connection; the read-only role cannot write."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from cluster import CACHED_REFERENCE_PROFILES, REPO
from scratch_databases import scratch_database

from airflow_retrain_gate.core import DecisionLog, RunKey, StateStore, Warehouse, parse_policy, run_gate
from airflow_retrain_gate.demo.catalog import DEMO_AS_OF
from airflow_retrain_gate.demo.loading import load_tables
from airflow_retrain_gate.demo.stories import build_story, story_policy

pytestmark = pytest.mark.postgres

STORY = "concept_drift"
DOC_NAMES = (
    "warehouse_db",
    "gate_state_db",
    "ml_features",
    "etl_loader",
    "retrain_gate_reader",
    "retrain_gate_state",
)
"""Names the page's SQL uses, replaced by this test's own (roles are shared by every database of a server)."""


@dataclass(frozen=True)
class Roles:
    """The page's roles on scratch databases: connection URLs of the reader and the state role."""

    reader_url: str
    state_url: str
    owner_url: str
    schema: str


def test_a_gate_reads_through_the_reader_role_and_writes_through_the_state_role(roles: Roles) -> None:
    policy = parse_policy(story_policy(STORY, schema=roles.schema))
    owner, reader, state = (
        Warehouse(roles.owner_url),
        Warehouse(roles.reader_url),
        StateStore(roles.state_url),
    )
    key = RunKey("fraud", "scheduled__2024-06-01", "retrain_gate")

    as_owner = run_gate(policy, owner, DEMO_AS_OF)
    decision = run_gate(policy, reader, DEMO_AS_OF, state=state, run_key=key)
    DecisionLog(state).record(key, decision)
    logged = DecisionLog(state).get(key)
    for database in (owner, reader, state):
        database.dispose()

    assert (decision.branch, decision.reasons) == (as_owner.branch, as_owner.reasons)
    assert decision.branch.value == "train"
    assert decision.notes["profile_cache"] == {"hits": 0, "misses": CACHED_REFERENCE_PROFILES}
    assert logged is not None and logged.entry.branch == "train"


def test_the_reader_role_cannot_write_to_the_warehouse(roles: Roles) -> None:
    reader = sa.create_engine(roles.reader_url)
    statements = (
        f"INSERT INTO {roles.schema}.events (kind) VALUES ('x')",
        f"CREATE TABLE {roles.schema}.scratch (a int)",
        "CREATE SCHEMA retrain_gate",
    )
    for statement in statements:
        with (
            reader.connect() as connection,
            pytest.raises(sa.exc.DBAPIError, match="read-only|permission denied"),
        ):
            connection.exec_driver_sql(statement)
    reader.dispose()


def page_sql() -> list[str]:
    """The SQL blocks of docs/scaling.md, in order (warehouse roles, then state database)."""
    return re.findall(r"```sql\n(.*?)```", (REPO / "docs" / "scaling.md").read_text(), re.DOTALL)


@pytest.fixture(scope="module")
def roles(postgres_server: str) -> Iterator[Roles]:
    """A warehouse with the story in a schema of its own and a state database, set up by the page's SQL."""
    run = uuid.uuid4().hex[:8]
    server = sa.create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        owner = connection.exec_driver_sql("SELECT current_user").scalar_one()
    role_names = {"retrain_gate_reader": f"rg_reader_{run}", "retrain_gate_state": f"rg_state_{run}"}
    try:
        with (
            scratch_database(postgres_server, "rg_roles_warehouse") as warehouse_url,
            scratch_database(postgres_server, "rg_roles_state") as state_url,
        ):
            names = {
                "warehouse_db": sa.engine.make_url(warehouse_url).database,
                "gate_state_db": sa.engine.make_url(state_url).database,
                "ml_features": f"features_{run}",
                "etl_loader": owner,
                **role_names,
            }
            load_tables(warehouse_url, build_story(STORY), schema=names["ml_features"])
            warehouse_block, state_block = page_sql()
            _execute(warehouse_url, _renamed(warehouse_block, names))
            _execute(state_url, _renamed(state_block, names))
            yield Roles(
                reader_url=_as_role(warehouse_url, names["retrain_gate_reader"]),
                state_url=_as_role(state_url, names["retrain_gate_state"]),
                owner_url=warehouse_url,
                schema=names["ml_features"],
            )
    finally:  # after the databases holding their grants are dropped
        with server.connect() as connection:
            for role in role_names.values():
                connection.exec_driver_sql(f'DROP ROLE IF EXISTS "{role}"')
        server.dispose()


def _renamed(sql: str, names: dict[str, str]) -> str:
    return re.sub(r"\b(" + "|".join(names) + r")\b", lambda match: names[match.group(1)], sql)


def _execute(url: str, sql: str) -> None:
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql(sql)
    engine.dispose()


def _as_role(url: str, role: str) -> str:
    return sa.engine.make_url(url).set(username=role, password=None).render_as_string(hide_password=False)
