"""The demo warehouse: every story in its own schema of one embedded DuckDB file, with its policy."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from airflow_retrain_gate.demo.loading import load_tables
from airflow_retrain_gate.demo.multiclass_world import (
    MULTICLASS_STORIES,
    build_multiclass_tables,
    multiclass_policy,
)
from airflow_retrain_gate.demo.stories import STORIES, build_story, story_policy

DEMO_AS_OF = datetime(2024, 6, 1, tzinfo=UTC)


def build_demo_warehouse(
    url: str,
    stories: Iterable[str] | None = None,
    *,
    seed: int = 0,
    magnitude: float = 1.0,
    rows_per_day: int = 1500,
    progress: Callable[[str], None] | None = None,
) -> dict[str, dict[str, Any]]:
    """Write each story's tables into schema `<story>` of `url`; returns story -> policy (as a dict)."""
    policies = {}
    for name in stories or [*STORIES, *MULTICLASS_STORIES]:
        if progress:
            progress(name)
        if name in MULTICLASS_STORIES:
            load_tables(url, build_multiclass_tables(name, seed=seed, magnitude=magnitude), schema=name)
            policies[name] = multiclass_policy(name, schema=name)
            continue
        load_tables(
            url, build_story(name, seed=seed, magnitude=magnitude, rows_per_day=rows_per_day), schema=name
        )
        policies[name] = story_policy(name, schema=name)
    return policies
