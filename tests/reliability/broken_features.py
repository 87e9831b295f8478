"""The corpus of features the gate cannot trust or cannot judge, and of filters that select nothing.

Each case breaks the train story in one way: an edit of its features table (extreme finite values, too few
rows, one timestamp for every row), or a policy edit (a filter typo, a window without rows). With sound data
the story decides `train`; with any of these it must not, and its first reason must name the cause.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from airflow_retrain_gate.core import Branch
from airflow_retrain_gate.core.checks.table_rows import describe_filters

CURRENT_START = pd.Timestamp("2024-05-25")
"""The current window's start (as_of 2024-06-01, window -7d..0d); the reference is 2024-03-30..2024-04-27."""
REFERENCE = (pd.Timestamp("2024-03-30"), pd.Timestamp("2024-04-27"))
NOT_JUDGED = "Not trained: the input checks could not judge the inputs: "

FeatureEdit = Callable[[pd.DataFrame, np.random.Generator], pd.DataFrame]
PolicyEdit = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class BrokenFeatures:
    """One breakage: how the features table or the policy is edited, and what the gate must decide and say."""

    name: str
    branch: Branch
    first_reason: tuple[str, ...]
    """Fragments the first reason must contain; ``{features}``, ``{predictions}``, ``{outcomes}`` name the tables."""
    features: FeatureEdit | None = None
    policy: PolicyEdit | None = None
    on_error: str = "alert"
    also_says: str | None = None
    """A fragment some other reason must contain."""


def extreme(value: float, share: float, reference_too: bool = False) -> FeatureEdit:
    """`value` in a `share` of basket_value's current rows (and of its reference rows)."""

    def edit(features: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        rows = features["event_ts"] >= CURRENT_START
        if reference_too:
            rows |= features["event_ts"].between(*REFERENCE)
        hit = rows & (rng.uniform(0, 1, len(features)) < share)
        features.loc[hit, "basket_value"] = value
        return features

    return edit


def thinned(per_day: int, current_only: bool = False) -> FeatureEdit:
    """Keep `per_day` rows a day (in the current window only, or everywhere)."""

    def edit(features: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        day = features["event_ts"].dt.floor("D")
        rank = features.assign(_key=rng.uniform(0, 1, len(features)), _day=day).groupby("_day")["_key"].rank()
        keep = rank <= per_day
        if current_only:
            keep |= features["event_ts"] < CURRENT_START
        return features[keep].reset_index(drop=True)

    return edit


def without_rows(start: pd.Timestamp, end: pd.Timestamp) -> FeatureEdit:
    """Delete the rows stamped in [start, end)."""

    def edit(features: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        return features[~features["event_ts"].between(start, end, inclusive="left")].reset_index(drop=True)

    return edit


def one_timestamp(stamp: str, current_only: bool = False) -> FeatureEdit:
    """Every row (or every current row) stamped with the same instant, as a load time or a default would be."""

    def edit(features: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        rows = features["event_ts"] >= CURRENT_START if current_only else features["event_ts"].notna()
        features.loc[rows, "event_ts"] = pd.Timestamp(stamp)
        return features

    return edit


def rescaled(factor: float, first: str, last: str) -> FeatureEdit:
    """basket_value multiplied by `factor` from `first` through `last` (whole days), then back: a unit change
    undone upstream, whose rows stay in the window."""

    def edit(features: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        day = features["event_ts"].dt.floor("D")
        rows = day.between(pd.Timestamp(first), pd.Timestamp(last))
        features.loc[rows, "basket_value"] = features.loc[rows, "basket_value"] * factor
        return features

    return edit


def filtered(section: str, filters: dict[str, Any]) -> PolicyEdit:
    """Set a table's filters."""

    def edit(policy: dict[str, Any]) -> None:
        policy["tables"][section]["filters"] = filters

    return edit


def windows_before_the_data(policy: dict[str, Any]) -> None:
    """A reference window a year before any table has rows."""
    policy["windows"]["reference"] = {"start": "-400d", "end": "-372d"}


SCALE_CAUSE = ("basket_value holds corrupt values",)
EXTREME: tuple[BrokenFeatures, ...] = tuple(
    BrokenFeatures(
        f"{value:g} in {share:.0%} of current basket_value",
        Branch.FIX_FEATURES,
        SCALE_CAUSE,
        extreme(value, share),
    )
    for value in (1e160, -1e300, 1e308)
    for share in (0.01, 0.2)
) + (
    BrokenFeatures(
        "1e300 in 1% of basket_value in both windows",
        Branch.FIX_FEATURES,
        SCALE_CAUSE,
        extreme(1e300, 0.01, reference_too=True),
    ),
)

UNDONE: tuple[BrokenFeatures, ...] = tuple(
    BrokenFeatures(
        f"basket_value x{factor:g} from {first} to {last}, then back",
        Branch.FIX_FEATURES,
        (f"basket_value changed scale: from {first} to {last}", "the rescaled rows are still in the window"),
        rescaled(factor, first, last),
    )
    for factor, first, last in ((100, "2024-05-26", "2024-05-28"), (0.01, "2024-05-25", "2024-05-28"))
)

NO_REFERENCE = "has no rows in the reference window"
UNJUDGED: tuple[BrokenFeatures, ...] = (
    BrokenFeatures(
        "no feature rows in the reference window",
        Branch.ALERT,
        ("could not diagnose (volume)", NO_REFERENCE),
        without_rows(*REFERENCE),
    ),
    BrokenFeatures(
        "no reference rows, on_error: skip",
        Branch.SKIP,
        (NOT_JUDGED, NO_REFERENCE),
        without_rows(*REFERENCE),
        on_error="skip",
    ),
    BrokenFeatures(
        "features start with the current window, on_error: fix_features",
        Branch.FIX_FEATURES,
        ("could not diagnose (volume)", NO_REFERENCE),
        without_rows(pd.Timestamp("2000-01-01"), CURRENT_START),
        on_error="fix_features",
    ),
    BrokenFeatures(
        "reference window before any data",
        Branch.ALERT,
        ("could not diagnose", "selects no rows in table {predictions} in the reference window"),
        policy=windows_before_the_data,
        also_says=NO_REFERENCE,
    ),
    *(
        BrokenFeatures(
            f"feed thinned to {per_day} rows a day, on_error: {on_error}",
            Branch(on_error),
            (NOT_JUDGED, "cannot be judged"),
            thinned(per_day),
            on_error=on_error,
        )
        for per_day, on_error in ((1, "alert"), (2, "fix_features"), (3, "skip"), (3, "alert"))
    ),
    BrokenFeatures(
        "current window thinned to 2 rows a day",
        Branch.FIX_FEATURES,
        ("Table {features} is missing rows",),
        thinned(2, current_only=True),
    ),
)

ONE_INSTANT = "share one timestamp"
TIMESTAMPS: tuple[BrokenFeatures, ...] = (
    BrokenFeatures(
        "every row stamped 2024-05-31 12:00",
        Branch.FIX_FEATURES,
        (ONE_INSTANT, "2024-05-31 12:00:00 UTC", "current window"),
        one_timestamp("2024-05-31 12:00"),
    ),
    BrokenFeatures(
        "every current row stamped 2024-05-31 06:00, on_error: skip",
        Branch.FIX_FEATURES,
        (ONE_INSTANT, "2024-05-31 06:00:00 UTC"),
        one_timestamp("2024-05-31 06:00", current_only=True),
        on_error="skip",
    ),
    BrokenFeatures(
        "every row stamped 2024-04-10 (in the reference window)",
        Branch.FIX_FEATURES,
        ("is stale",),
        one_timestamp("2024-04-10 08:00"),
        also_says=f"{ONE_INSTANT}, 2024-04-10 08:00:00 UTC",
    ),
)


def _typo_cases(
    section: str, filters: list[dict[str, Any]], cause: str, branch: Branch
) -> list[BrokenFeatures]:
    """One case per filter (each on a different on_error)."""
    on_errors = ("alert", "skip", "fix_features")
    return [
        BrokenFeatures(
            f"filter typo on {section}: {typo}, on_error: {on_error}",
            Branch.FIX_FEATURES if branch is Branch.FIX_FEATURES else Branch(on_error),
            (f"tables.{section}.filters: {describe_filters(typo)}", cause),
            policy=filtered(section, typo),
            on_error=on_error,
        )
        for typo, on_error in zip(filters, on_errors, strict=True)
    ]


FILTERS: tuple[BrokenFeatures, ...] = (
    *_typo_cases(
        "predictions",
        [
            {"model_name": "frod-scorer"},
            {"model_name": "Fraud-Scorer"},
            {"model_name": ["fraud_scorer", "fraud scorer"]},
        ],
        "selects no rows in table {predictions}",
        Branch.ALERT,
    ),
    *_typo_cases(
        "outcomes",
        [{"source": "cmr"}, {"source": "CRM"}, {"source": ["crm ", "cr"]}],
        "selects no labels joined to a prediction in table {outcomes}",
        Branch.ALERT,
    ),
    *_typo_cases(
        "features",
        [{"segment": "enterprize"}, {"segment": "Consumer"}, {"segment": ["smb ", "consumers"]}],
        "{features}",
        Branch.FIX_FEATURES,
    ),
)

CORPUS: tuple[BrokenFeatures, ...] = (*EXTREME, *UNDONE, *UNJUDGED, *TIMESTAMPS, *FILTERS)
