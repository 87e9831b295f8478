"""A year in the life of a model: one warehouse where a campaign, a dead signal later repaired, a slow concept
change and a taxonomy change happen in turn, for `retrain-gate backtest` to replay.

The healthy world of `world.py` spans the year; each episode edits its rows on chosen days, the way the stories
of `stories.py` edit the last week of theirs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from airflow_retrain_gate.demo.loading import load_tables
from airflow_retrain_gate.demo.stories import add_campaign, story_policy
from airflow_retrain_gate.demo.world import World, WorldConfig, generate, tables

YEAR_SCHEMA = "year_in_the_life"
YEAR_START = datetime(2024, 1, 1, tzinfo=UTC)
YEAR_DAYS = 366
YEAR_ROWS_PER_DAY = 300
"""Small enough that a replay of one date costs about three seconds on DuckDB, big enough for the checks' tests."""


YEAR_END = (YEAR_START + timedelta(days=YEAR_DAYS)).date()


def day_of_year(when: date) -> int:
    """Days from the start of the year to `when` (the world's day index)."""
    return (when - YEAR_START.date()).days


@dataclass(frozen=True)
class Episode:
    """One thing that happens to the model's world: its first day and the day it ends (exclusive)."""

    name: str
    title: str
    starts: date
    ends: date = YEAR_END
    """The year's end: the change stays."""

    def covers(self, day: np.ndarray | pd.Series) -> np.ndarray | pd.Series:
        """Mask of the day indices (from the start of the year) that fall in the episode."""
        return (day >= day_of_year(self.starts)) & (day < day_of_year(self.ends))


CAMPAIGN = Episode(
    "campaign", "A weekend campaign (in the events table)", date(2024, 4, 13), date(2024, 4, 15)
)
DEAD_SIGNAL = Episode("dead_signal", "engagement_rate stops updating", date(2024, 6, 3), date(2024, 6, 24))
CONCEPT_CHANGE = Episode(
    "concept_change", "Outcomes drift away from the scores over four weeks", date(2024, 8, 19)
)
TAXONOMY_CHANGE = Episode(
    "taxonomy_change", "New query intents the categoriser does not know", date(2024, 11, 18)
)
EPISODES = (CAMPAIGN, DEAD_SIGNAL, CONCEPT_CHANGE, TAXONOMY_CHANGE)
BACKTEST_START = date(2024, 3, 4)
"""The first date whose reference window (63 to 35 days back) lies inside the year."""
BACKTEST_END = date(2024, 12, 31)
CONCEPT_RAMP_DAYS = 28
CONCEPT_SHIFT = 0.9
"""The outcome's logit shift at equal score once the concept change is complete (as the concept_drift story's)."""


def _campaign(world: World) -> None:
    """Newcomers with short tenure and low engagement double a weekend's traffic; an events row declares it."""
    in_campaign = CAMPAIGN.covers(world.day)
    extra = int(in_campaign.sum() * 1.2)
    add_campaign(
        world,
        in_campaign,
        extra,
        day_of_year(CAMPAIGN.starts),
        day_of_year(CAMPAIGN.ends),
        "Spring weekend promo",
    )


def _dead_signal(features: pd.DataFrame) -> None:
    """The features table's engagement_rate repeats its last good value for three weeks, until the source is
    repaired. Only the table goes dead: customers engage (and click) as before."""
    day = (features["event_ts"] - YEAR_START.replace(tzinfo=None)).dt.days
    frozen = DEAD_SIGNAL.covers(day)
    last_good = features.loc[day < day_of_year(DEAD_SIGNAL.starts), "engagement_rate"].iloc[-1]
    features.loc[frozen, "engagement_rate"] = round(float(last_good), 4)


def _concept_change(world: World) -> None:
    """At equal score, outcomes grow more likely, ramping up over four weeks and staying."""
    onset = day_of_year(CONCEPT_CHANGE.starts)
    progress = np.clip((world.day - onset + 1) / CONCEPT_RAMP_DAYS, 0.0, 1.0)
    world.label_logit_shift = CONCEPT_SHIFT * progress


def _taxonomy_change(world: World) -> None:
    """One query in nine arrives with an intent the categoriser has never seen."""
    changed = TAXONOMY_CHANGE.covers(world.day) & (world.rng.uniform(0, 1, len(world.day)) < 0.11)
    world.query_intent[changed] = world.rng.choice(
        ["crypto_refund", "ai_assistant", "bnpl_dispute"], size=int(changed.sum())
    )


def build_year_tables(*, seed: int = 0, rows_per_day: int = YEAR_ROWS_PER_DAY) -> dict[str, pd.DataFrame]:
    """The year's tables (features, predictions, outcomes, overrides, events, training_signals)."""
    config = WorldConfig(
        seed=seed, rows_per_day=rows_per_day, days=YEAR_DAYS, as_of=YEAR_START + timedelta(days=YEAR_DAYS)
    )
    world = generate(config)
    for change in (_campaign, _concept_change, _taxonomy_change):
        change(world)
    frames = tables(world)
    _dead_signal(frames["features"])
    return frames


def year_policy(schema: str | None = YEAR_SCHEMA, prefix: str = "") -> dict[str, Any]:
    """The policy of the year's model: the stories' policy on the year's tables, with a 28-day cooldown.

    The cooldown spans the reference window's length: a replay cannot see what a retrain would have changed (the
    warehouse holds the old model's predictions), and a real retrain's new scores take that long to become the
    reference its next gate compares with.
    """
    policy = story_policy("year", prefix=prefix, schema=schema)
    return {**policy, "name": "demo-year-in-the-life", "cooldown": "28d"}


def backtest_command(policy_path: str, url: str, every: str = "7d") -> str:
    """The `retrain-gate backtest` command line that replays the year against a weekly schedule."""
    return (
        f"retrain-gate backtest --policy {policy_path} --warehouse {url} "
        f"--start {BACKTEST_START} --end {BACKTEST_END} --every {every} --schedule 7d"
    )


def build_year_demo(
    url: str, policy_folder: Path, *, seed: int = 0, rows_per_day: int = YEAR_ROWS_PER_DAY
) -> Path:
    """Write the year's tables into schema `year_in_the_life` of `url` and its policy into `policy_folder`;
    returns the policy file's path."""
    load_tables(url, build_year_tables(seed=seed, rows_per_day=rows_per_day), schema=YEAR_SCHEMA)
    policy_folder.mkdir(parents=True, exist_ok=True)
    policy_path = policy_folder / f"{YEAR_SCHEMA}.yaml"
    policy_path.write_text(yaml.safe_dump(year_policy(), sort_keys=False))
    return policy_path
