"""Every story takes the same branch on Spark SQL (a Thrift server with two executors) as on DuckDB.

The stories run on Spark in a background process from the session's start (stories_on_spark.py); these tests
judge its decisions as tests/scenarios judges DuckDB's.
"""

from __future__ import annotations

from typing import Any

import pytest

from airflow_retrain_gate.core import Decision
from airflow_retrain_gate.demo.stories import STORIES
from tests.scenarios.test_stories import assert_story


@pytest.mark.parametrize("story", list(STORIES))
def test_story_on_spark(spark_results: dict[str, Any], story: str) -> None:
    result = spark_results["stories"][story]
    assert "error" not in result, result.get("error")
    assert_story(Decision.from_dict(result["decision"]), story)


def test_queries_ran_on_both_executors(spark_results: dict[str, Any]) -> None:
    """The stories' aggregates ran as distributed jobs: tasks finished on each of the two executors."""
    assert spark_results["executors_with_tasks"] == ["0", "1"]


def test_spark_columns_are_reflected_with_their_kinds(spark_results: dict[str, Any]) -> None:
    """Parquet's naive timestamps (TIMESTAMP_NTZ), doubles, integers and strings keep the kinds the gate reads."""
    kinds = spark_results["features_column_kinds"]
    assert kinds["event_ts"] == "timestamp"
    assert kinds["tenure_score"] == "numeric"
    assert kinds["query_intent"] == "text"
