"""Feature-table warehouses for the Great Expectations check, and the gate run on them with a suite.

The suite is the one the example DAG ships (``dags_examples/suites/features_contract.json``, written by GX
1.24 itself): the tests prove the example's contract catches each story.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from airflow_retrain_gate.core import Decision, Finding, Warehouse, parse_policy, run_gate
from airflow_retrain_gate.demo.catalog import DEMO_AS_OF
from airflow_retrain_gate.demo.loading import load_tables
from airflow_retrain_gate.demo.stories import build_story, story_policy

SUITE_PATH = Path(__file__).resolve().parents[2] / "dags_examples" / "suites" / "features_contract.json"
ROWS_PER_DAY = 1500
"""The demo's scale: a normal current week holds about 10,000 feature rows, which the suite's row count expects."""


def contract_suite() -> dict[str, Any]:
    """The example's suite as a mapping (for tests that extend it inline)."""
    return json.loads(SUITE_PATH.read_text())


@dataclass(frozen=True)
class FeatureWarehouse:
    """A warehouse (and schema) that holds one story's feature table."""

    url: str
    schema: str | None

    def load(self, features: pd.DataFrame) -> None:
        """Write the feature table, replacing any before it."""
        load_tables(self.url, {"features": features}, schema=self.schema)

    def policy(self, **expectations: Any) -> dict[str, Any]:
        """A policy that watches only the features table, with `expectations` as the check's settings."""
        policy = story_policy("expectations", schema=self.schema)
        policy["tables"] = {"features": policy["tables"]["features"]}
        if expectations:
            policy["checks"] = {"expectations": expectations}
        return policy

    def gate(self, **expectations: Any) -> Decision:
        """Run the gate at the demo's as_of with the given expectations settings (none: no suite)."""
        warehouse = Warehouse(self.url)
        try:
            return run_gate(parse_policy(self.policy(**expectations)), warehouse, DEMO_AS_OF)
        finally:
            warehouse.dispose()


def story_features(
    story: str, *, seed: int = 0, edit: Callable[[pd.DataFrame], None] | None = None
) -> pd.DataFrame:
    """The feature table of a demo story at the demo's scale, optionally edited to tell a variation of it."""
    features = build_story(story, seed=seed, rows_per_day=ROWS_PER_DAY)["features"]
    if edit is not None:
        edit(features)
    return features


def failed_expectations(decision: Decision) -> dict[tuple[str, str], Finding]:
    """(expectation type, subject) -> finding, for every failed or errored expectation."""
    return {
        (finding.evidence["expectation_type"], finding.subject): finding
        for finding in decision.findings
        if finding.check == "expectations" and finding.status.value in ("fail", "error")
    }


@pytest.fixture(params=["duckdb", pytest.param("postgresql", marks=pytest.mark.postgres)])
def feature_warehouse(request: pytest.FixtureRequest, duckdb_url: str) -> FeatureWarehouse:
    """An empty DuckDB file, or a fresh PostgreSQL schema."""
    if request.param == "duckdb":
        return FeatureWarehouse(duckdb_url, None)
    return FeatureWarehouse(
        request.getfixturevalue("postgres_server"), request.getfixturevalue("postgres_schema")
    )
