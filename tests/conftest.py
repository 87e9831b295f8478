"""Shared fixtures: real warehouses (DuckDB files, PostgreSQL schemas, SQLite files) for every test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

SHARED_SESSIONS = ("tests/distributed/", "tests/airflow/", "tests/plugins/")
"""Folders whose tests share costly session fixtures (a Celery cluster, a migrated Airflow, a UI site): each runs on
one pytest-xdist worker, and first, being the longest."""
SPREAD_MODULES = ("tests/scenarios/test_stories.py",)
"""Modules whose tests are many and independent of each other: pytest-xdist spreads them over its workers."""

POSTGRES_URL = os.environ.get(
    "RETRAIN_GATE_TEST_POSTGRES", "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() == "true"


def work_unit(nodeid: str) -> str:
    """The tests pytest-xdist runs together on one worker: a SHARED_SESSIONS folder, a test of SPREAD_MODULES, or
    else a module (its module fixtures are then built once)."""
    if nodeid.startswith(SPREAD_MODULES):
        return nodeid
    folder = next((folder for folder in SHARED_SESSIONS if nodeid.startswith(folder)), None)
    return folder or nodeid.split("::")[0]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The SHARED_SESSIONS folders first, in their order: the workers start with the longest units."""
    rank = {folder: index for index, folder in enumerate(SHARED_SESSIONS)}
    items.sort(key=lambda item: rank.get(work_unit(item.nodeid), len(rank)))


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """pytest-xdist (``make test``) hands out `work_unit`s in collection order."""
    from xdist.scheduler import LoadScopeScheduling

    class WorkUnitScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    config.option.loadscopereorder = False
    return WorkUnitScheduling(config, log)


def postgres_available() -> bool:
    """Whether the test PostgreSQL server answers."""
    try:
        engine = sa.create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:  # noqa: BLE001 - any failure means "not available"
        return False


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The PostgreSQL URL; skips when no server answers, except in CI where it must."""
    if not postgres_available():
        if IN_CI:
            pytest.fail(f"CI=true but PostgreSQL does not answer at {POSTGRES_URL}")
        pytest.skip(f"PostgreSQL does not answer at {POSTGRES_URL}")
    return POSTGRES_URL


@pytest.fixture
def postgres_schema(postgres_server: str) -> Iterator[str]:
    """A fresh schema for one test, dropped afterwards."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(postgres_server)
    with engine.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    yield schema
    with engine.begin() as connection:
        connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


@pytest.fixture
def duckdb_url(tmp_path: Path) -> str:
    """A DuckDB file warehouse in the test's temporary directory."""
    return f"duckdb:///{tmp_path / 'warehouse.duckdb'}"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite file warehouse in the test's temporary directory."""
    return f"sqlite:///{tmp_path / 'warehouse.sqlite'}"


StoryWarehouse = Callable[[str, int], tuple[str, Path]]
"""(story, rows a day) -> (the URL of a DuckDB warehouse telling that story, the path of its policy file)."""


@pytest.fixture(scope="session")
def story_warehouse(tmp_path_factory: pytest.TempPathFactory) -> StoryWarehouse:
    """Builds a story's DuckDB warehouse and writes its policy YAML, in a folder of its own."""
    import yaml

    from airflow_retrain_gate.demo.loading import load_tables
    from airflow_retrain_gate.demo.stories import build_story, story_policy

    def build(story: str, rows_per_day: int) -> tuple[str, Path]:
        folder = tmp_path_factory.mktemp(story)
        url = f"duckdb:///{folder / 'w.duckdb'}"
        load_tables(url, build_story(story, rows_per_day=rows_per_day))
        policy = folder / "policy.yaml"
        policy.write_text(yaml.safe_dump(story_policy(story)))
        return url, policy

    return build
