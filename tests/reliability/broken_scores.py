"""The corpus of broken scores and duplicate keys: the train story with its predictions or features broken in one
way, at several magnitudes. Each case names the table it edits and what the first reason must say; none may train.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

CURRENT_START = pd.Timestamp("2024-05-25")
"""First day of the current window (as_of 2024-06-01, window -7d..0d)."""
CURRENT_WINDOW = "current window (2024-05-25 to 2024-05-31)"
Edit = Callable[[pd.DataFrame, np.random.Generator], pd.DataFrame]


@dataclass(frozen=True)
class Breakage:
    """One way to break one table of the story, and what the decision's reasons must say."""

    name: str
    table: str
    """The story table the edit applies to (predictions or features)."""
    edit: Edit
    cause: str
    """A fragment of one reason naming the kind of breakage."""
    names: tuple[str, ...]
    """Fragments of the first reason: the table, column or window; ``{table}`` is the broken table's name."""
    policy: Callable[[dict[str, Any]], None] | None = None


def _current(frame: pd.DataFrame, last_days: int = 7) -> pd.Series:
    return frame["event_ts"] >= CURRENT_START + pd.Timedelta(days=7 - last_days)


def rescaled(factor: float, rounded: bool = False, since: pd.Timestamp = CURRENT_START) -> Edit:
    """Scores since `since` multiplied by `factor` (a percent or per-mille unit), optionally rounded to whole
    units. A `since` inside the reference window is a breakage nobody fixed for weeks."""

    def edit(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        current = frame["event_ts"] >= since
        scores = frame.loc[current, "score"] * factor
        frame.loc[current, "score"] = scores.round() if rounded else scores
        return frame

    return edit


def logits(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Current scores written as log-odds instead of probabilities."""
    current = _current(frame)
    probability = frame.loc[current, "score"].clip(1e-6, 1 - 1e-6)
    frame.loc[current, "score"] = np.log(probability / (1 - probability))
    return frame


def above_one(share: float) -> Edit:
    """A share of current scores pushed above 1 (a probability plus one)."""

    def edit(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        chosen = _current(frame) & (rng.uniform(size=len(frame)) < share)
        frame.loc[chosen, "score"] += 1.0
        return frame

    return edit


def frozen(days: int) -> Edit:
    """The last `days` days of scores all equal one value (the scoring job replays a constant)."""

    def edit(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        frame.loc[_current(frame, days), "score"] = 0.137
        return frame

    return edit


def nulls(share: float) -> Edit:
    """A share of current scores missing."""

    def edit(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        frame.loc[_current(frame) & (rng.uniform(size=len(frame)) < share), "score"] = np.nan
        return frame

    return edit


def rescored(share: float, hours_later: float = 0.0) -> Edit:
    """A share of current predictions written again for the same entity, with a different score, `hours_later`."""

    def edit(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        chosen = frame[_current(frame) & (rng.uniform(size=len(frame)) < share)].copy()
        chosen["score"] = (chosen["score"] + rng.normal(0.0, 0.05, len(chosen))).clip(0.0, 1.0)
        chosen["event_ts"] += pd.Timedelta(hours=hours_later)
        return pd.concat([frame, chosen], ignore_index=True)

    return edit


def ingested_twice(last_days: int) -> Edit:
    """The last `last_days` days of the table loaded a second time, row for row."""

    def edit(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        return pd.concat([frame, frame[_current(frame, last_days)]], ignore_index=True)

    return edit


def _key(table: str, *columns: str) -> Callable[[dict[str, Any]], None]:
    def edit(policy: dict[str, Any]) -> None:
        policy["tables"][table]["key"] = list(columns)

    return edit


SCORE = ("{table}.score",)
DUPLICATES = ("Table {table} holds duplicate rows", CURRENT_WINDOW)

IN_REFERENCE = (pd.Timestamp("2024-04-25"), pd.Timestamp("2024-04-14"))
"""Days inside the reference window (2024-03-30 to 2024-04-26): its last 2 and 13 days."""

CORPUS: tuple[Breakage, ...] = (
    Breakage("scores x100", "predictions", rescaled(100), "changed scale", SCORE),
    *(
        Breakage(
            f"scores x{factor:g} since {since:%Y-%m-%d} (in the reference)",
            "predictions",
            rescaled(factor, since=since),
            f"changed scale: since {since:%Y-%m-%d}",
            SCORE,
        )
        for factor, since in ((100, IN_REFERENCE[0]), (0.01, IN_REFERENCE[1]))
    ),
    Breakage("scores as whole percent", "predictions", rescaled(100, rounded=True), "changed scale", SCORE),
    Breakage("scores x1000", "predictions", rescaled(1000), "changed scale", SCORE),
    Breakage("1% of scores above 1", "predictions", above_one(0.01), "left the probability range", SCORE),
    Breakage("20% of scores above 1", "predictions", above_one(0.2), "left the probability range", SCORE),
    Breakage("scores as log-odds", "predictions", logits, "left the probability range", SCORE),
    Breakage("scores frozen for 2 days", "predictions", frozen(2), "stopped updating", SCORE),
    Breakage("scores frozen for 4 days", "predictions", frozen(4), "stopped updating", SCORE),
    Breakage("scores constant over the window", "predictions", frozen(7), "is frozen", SCORE),
    Breakage("10% NULL scores", "predictions", nulls(0.1), "NULL share rose", SCORE),
    Breakage("50% NULL scores", "predictions", nulls(0.5), "NULL share rose", SCORE),
    Breakage("every current score NULL", "predictions", nulls(1.0), "entirely NULL", SCORE),
    Breakage("5% of predictions rescored", "predictions", rescored(0.05), "different scores", DUPLICATES),
    Breakage("20% of predictions rescored", "predictions", rescored(0.2), "different scores", DUPLICATES),
    Breakage("every prediction rescored", "predictions", rescored(1.0), "different scores", DUPLICATES),
    Breakage(
        "20% rescored an hour later, key entity_id",
        "predictions",
        rescored(0.2, hours_later=1.0),
        "repeat a key (entity_id)",
        DUPLICATES,
        policy=_key("predictions", "entity_id"),
    ),
    Breakage("features window ingested twice", "features", ingested_twice(7), "(50.0%)", DUPLICATES),
    Breakage(
        "last 2 days of features ingested twice", "features", ingested_twice(2), "repeat a key", DUPLICATES
    ),
)
"""Every class at three magnitudes or more: rescaled, out of range, frozen, NULL, rescored, ingested twice."""
