"""The stories through Snowflake's SQLAlchemy dialect, against fakesnow (Snowflake SQL run on DuckDB).

The gate connects with a `snowflake://` URL, reflects the tables through snowflake-sqlalchemy, sends the SQL
that dialect compiles, and must take the branch, the deciding checks and the check statuses that the same
tables give on DuckDB. docs/scaling.md ("Engines: what runs where") says what this proves and what it does not.
"""

from __future__ import annotations

import functools
import importlib.util
import sys
import types
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from airflow_retrain_gate.core import Decision, Warehouse, parse_policy, run_gate
from airflow_retrain_gate.core.dry_run import dry_run
from airflow_retrain_gate.core.readiness import FeatureFreshnessProbe, LabelMaturityProbe, Reading
from airflow_retrain_gate.core.warehouse import classify_type
from airflow_retrain_gate.demo.catalog import DEMO_AS_OF
from airflow_retrain_gate.demo.loading import load_tables
from airflow_retrain_gate.demo.stories import STORIES, build_story, story_policy
from tests.scenarios.test_stories import assert_story, diagnose

ROWS_PER_DAY = 400
EMULATED_STORIES = [
    *{story.branch: name for name, story in reversed(STORIES.items())}.values(),
    "prompt_release",
]
"""The first story of each branch, and prompt_release, whose policy maps version columns. A story's queries
follow its policy, not its data, and the other stories share one policy; fakesnow translates each query anew,
about a second for a profile query, so these five keep this module near 25 s of CPU.
tests/core/test_dialect_grammar.py parses every query in Snowflake's grammar."""

pytestmark = [
    # fakesnow 0.12.1 and connector 5's pd_writer under duckdb 2, SQLAlchemy 2.1 and pandas 3: theirs, not ours
    pytest.mark.filterwarnings("ignore:Arrow output on a DB-API result:UserWarning"),
    pytest.mark.filterwarnings("ignore:The _ConnectionFairy.connection attribute is deprecated"),
    pytest.mark.filterwarnings(
        "ignore:For backward compatibility, 'str' dtypes are included by select_dtypes"
    ),
]
snowflake_connector = pytest.importorskip("snowflake.connector")
pytest.importorskip("snowflake.sqlalchemy")


def bridge_fakesnow_to_connector_5() -> None:
    """Give fakesnow 0.12.1, written against snowflake-connector-python 4, the names connector 5 moved.

    snowflake-sqlalchemy 2.1, the release for SQLAlchemy 2.1, needs connector 5; fakesnow still imports
    `converter` (client-side parameter binding: connector 5's own `ClientSideBindingConverter` does that
    job), `file_util` (only for PUT to a stage, which the gate never does) and builds cursor descriptions
    with connector 4's `ResultMetadata.from_column(dict)`.
    """
    if importlib.util.find_spec("snowflake.connector.converter") is not None:
        return
    from snowflake.connector._internal.binding_converters import ClientSideBindingConverter
    from snowflake.connector._internal.type_codes import get_type_code
    from snowflake.connector.cursor import ResultMetadata

    converter = types.ModuleType("snowflake.connector.converter")
    converter.SnowflakeConverter = ClientSideBindingConverter  # type: ignore[attr-defined]
    file_util = types.ModuleType("snowflake.connector.file_util")
    file_util.SnowflakeFileUtil = None  # type: ignore[attr-defined]
    for name, module in (("converter", converter), ("file_util", file_util)):
        sys.modules[f"snowflake.connector.{name}"] = module
        setattr(snowflake_connector, name, module)

    import fakesnow.rowtype

    class DescribedColumn(ResultMetadata):
        """A cursor description entry from fakesnow's column dict, as connector 4 built it."""

        @classmethod
        def from_column(cls, col: Any) -> ResultMetadata:
            return ResultMetadata(
                col["name"],
                get_type_code(col["type"]),
                None,
                col.get("length"),
                col.get("precision"),
                col.get("scale"),
                col.get("nullable"),
            )

    fakesnow.rowtype.ResultMetadata = DescribedColumn  # type: ignore[misc]


bridge_fakesnow_to_connector_5()
fakesnow = pytest.importorskip("fakesnow")
from snowflake.connector.pandas_tools import pd_writer  # noqa: E402

BULK_WRITE = functools.partial(pd_writer, quote_identifiers=False, use_logical_type=True)
"""DataFrame.to_sql through write_pandas (a stage and COPY INTO on Snowflake), as Snowflake's documentation
advises: unquoted names match the upper-case columns the dialect creates, logical types keep timestamps."""


@pytest.fixture(scope="module")
def snowflake_emulator() -> Iterator[None]:
    """snowflake.connector.connect answered by fakesnow for this module: one DuckDB database in memory."""
    with fakesnow.patch():
        yield


def load_on_snowflake(story: str) -> str:
    """Load the story's tables through snowflake-sqlalchemy into a database of their own; its URL."""
    url = f"snowflake://gate:secret@emulated/{story}/public"
    engine = sa.create_engine(url)
    try:
        for name, frame in build_story(story, rows_per_day=ROWS_PER_DAY).items():
            frame.to_sql(name, engine, if_exists="replace", index=False, method=BULK_WRITE)
    finally:
        engine.dispose()
    return url


def diagnose_on_snowflake(story: str) -> Decision:
    """Load the story's tables through snowflake-sqlalchemy and run the gate on them at the demo's as_of."""
    warehouse = Warehouse(load_on_snowflake(story))
    try:
        assert warehouse.dialect == "snowflake"
        return run_gate(parse_policy(story_policy(story)), warehouse, DEMO_AS_OF)
    finally:
        warehouse.dispose()


def preflight(url: str, story: str) -> tuple[str, list[Reading]]:
    """The dry run's report and both readiness probes' readings of the story's tables at `url`."""
    policy = parse_policy(story_policy(story))
    warehouse = Warehouse(url)
    try:
        probes = [FeatureFreshnessProbe, LabelMaturityProbe]
        readings = [probe.for_policy(policy, DEMO_AS_OF).measure(warehouse) for probe in probes]
        return dry_run(policy, warehouse, DEMO_AS_OF).render(), readings
    finally:
        warehouse.dispose()


@pytest.mark.parametrize("story", EMULATED_STORIES)
def test_story_on_snowflake_decides_as_on_duckdb(
    snowflake_emulator: None, duckdb_url: str, story: str
) -> None:
    on_snowflake = diagnose_on_snowflake(story)
    assert_story(on_snowflake, story)
    on_duckdb = diagnose(duckdb_url, story, rows_per_day=ROWS_PER_DAY)
    assert on_snowflake.deciding_checks == on_duckdb.deciding_checks, on_snowflake.reasons
    statuses = {(finding.check, finding.subject, finding.status) for finding in on_duckdb.findings}
    assert {(finding.check, finding.subject, finding.status) for finding in on_snowflake.findings} == statuses


def test_dry_run_and_readiness_on_snowflake_read_as_on_duckdb(
    snowflake_emulator: None, duckdb_url: str
) -> None:
    """Row counts per table and window, the newest feature row's lag and the matured share of labels."""
    on_snowflake = preflight(load_on_snowflake("pipeline_lag"), "pipeline_lag")
    load_tables(duckdb_url, build_story("pipeline_lag", rows_per_day=ROWS_PER_DAY))
    assert on_snowflake == preflight(duckdb_url, "pipeline_lag")
    assert "the mapping is usable" in on_snowflake[0]
    assert not on_snowflake[1][0].ready, on_snowflake[1][0].message


def test_snowflake_timestamp_types_keep_their_kind(snowflake_emulator: None) -> None:
    """TIMESTAMP_NTZ ("no time zone") holds naive UTC times; TIMESTAMP_LTZ and TIMESTAMP_TZ hold instants."""
    url = "snowflake://gate:secret@emulated/timestamps/public"
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql(
                "CREATE TABLE stamps (ntz TIMESTAMP_NTZ, ltz TIMESTAMP_LTZ, tz TIMESTAMP_TZ)"
            )
    finally:
        engine.dispose()
    warehouse = Warehouse(url)
    try:
        columns = warehouse.describe("stamps", "tables.features").columns
    finally:
        warehouse.dispose()
    assert {name: column.kind for name, column in columns.items()} == {
        "ntz": "timestamp",
        "ltz": "timestamptz",
        "tz": "timestamptz",
    }
    assert classify_type("TIMESTAMP_NTZ") == "timestamp"


def test_every_branch_is_emulated() -> None:
    assert {STORIES[story].branch for story in EMULATED_STORIES} == {"skip", "fix_features", "alert", "train"}
