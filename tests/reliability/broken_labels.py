"""The corpus of broken labels and scores: a story's outcomes or predictions broken in one way, at several
magnitudes and seeds, and the check whose finding must decide `fix_features`. Also the sound variants
(healthy, train, boolean and numeric labels) on which those checks must pass."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .gates import TRAIN_STORY

Frames = dict[str, pd.DataFrame]
CURRENT_START = pd.Timestamp("2024-05-25")
"""The current window (as_of 2024-06-01, -7d..0d) starts here."""
REFERENCE = (pd.Timestamp("2024-03-30"), pd.Timestamp("2024-04-27"))
"""The reference window (-63d..-35d)."""


@dataclass(frozen=True)
class LabelCase:
    """One variant of a story's tables, and what the gate must conclude about it."""

    name: str
    story: str
    seed: int
    edit: Callable[[Frames], None] | None
    check: str = ""
    """The check whose finding decides fix_features first; empty for sound variants."""
    says: str = ""
    """A fragment of the deciding reason."""
    branch: str | None = None
    """The branch a sound variant keeps (None: not asserted)."""


def _predicted_in(frames: Frames, start: pd.Timestamp, end: pd.Timestamp | None = None) -> pd.Series:
    timestamps = frames["predictions"]["event_ts"]
    return (timestamps >= start) & (timestamps < end if end is not None else True)


def _sample(mask: pd.Series, share: float) -> pd.Series:
    """A fixed random `share` of the rows in `mask`."""
    pick = np.random.default_rng(12).uniform(size=len(mask)) < share
    return mask & pick


def _current_labels(frames: Frames, share: float, since: pd.Timestamp = CURRENT_START) -> pd.Series:
    """A `share` of the outcome rows graded against predictions made since `since` (default: the current
    window's)."""
    entities = frames["predictions"]["entity_id"][_predicted_in(frames, since)]
    return _sample(frames["outcomes"]["entity_id"].isin(entities), share)


def recode(
    old: float, new: float, share: float, since: pd.Timestamp = CURRENT_START
) -> Callable[[Frames], None]:
    """A `share` of the labels equal to `old` of predictions made since `since` now read `new`. A `since` inside
    the reference window is a recoding nobody fixed for weeks."""

    def edit(frames: Frames) -> None:
        outcomes = frames["outcomes"]
        rows = _current_labels(frames, share, since) & (outcomes["outcome"] == old)
        outcomes["outcome"] = outcomes["outcome"].astype(float).mask(rows, new)

    return edit


def soft_labels(share: float) -> Callable[[Frames], None]:
    """A `share` of the current window's labels replaced by 0.5."""

    def edit(frames: Frames) -> None:
        outcomes = frames["outcomes"]
        outcomes["outcome"] = outcomes["outcome"].astype(float).mask(_current_labels(frames, share), 0.5)

    return edit


def coded_minus_one(share: float, since: pd.Timestamp = CURRENT_START) -> Callable[[Frames], None]:
    """Labels coded -1/1 throughout, except a `share` of those of predictions made since `since` that arrive as
    0/1."""

    def edit(frames: Frames) -> None:
        outcomes = frames["outcomes"]
        coded = 2.0 * outcomes["outcome"] - 1.0
        outcomes["outcome"] = coded.mask(
            _current_labels(frames, share, since), outcomes["outcome"].astype(float)
        )

    return edit


def regression_label(factor: float = 1.0, shift: float = 0.0) -> Callable[[Frames], None]:
    """A numeric label (an amount: 40 + 25 x outcome + noise); the current window's x `factor`, + `shift`."""

    def edit(frames: Frames) -> None:
        outcomes = frames["outcomes"]
        noise = np.random.default_rng(5).normal(0.0, 8.0, len(outcomes))
        amount = 40.0 + 25.0 * outcomes["outcome"] + noise
        current = _current_labels(frames, 1.0)
        outcomes["outcome"] = amount.mask(current, amount * factor + shift)

    return edit


def count_label(fraction_share: float, since: pd.Timestamp = CURRENT_START) -> Callable[[Frames], None]:
    """A whole-number label (a count of claims); a `fraction_share` of those of predictions made since `since`
    gain 0.5."""

    def edit(frames: Frames) -> None:
        outcomes = frames["outcomes"]
        counts = np.random.default_rng(6).poisson(1.0 + 3.0 * outcomes["outcome"]).astype(float)
        outcomes["outcome"] = pd.Series(counts, index=outcomes.index).mask(
            _current_labels(frames, fraction_share, since), counts + 0.5
        )

    return edit


def boolean_labels(frames: Frames) -> None:
    """Labels stored as SQL BOOLEAN."""
    frames["outcomes"]["outcome"] = frames["outcomes"]["outcome"] == 1


def labels_before_predictions(share: float, window: str = "current") -> Callable[[Frames], None]:
    """A `share` of a window's labels timestamped an hour before their prediction (a broken join)."""

    def edit(frames: Frames) -> None:
        predictions, outcomes = frames["predictions"], frames["outcomes"]
        start, end = (CURRENT_START, None) if window == "current" else REFERENCE
        scored_at = predictions.set_index("entity_id")["event_ts"][_predicted_in(frames, start, end).values]
        rows = _sample(outcomes["entity_id"].isin(scored_at.index), share)
        outcomes.loc[rows, "label_ts"] = (
            outcomes.loc[rows, "entity_id"].map(scored_at) - pd.Timedelta(hours=1)
        ).values

    return edit


def inverted_scores(share: float, since: pd.Timestamp = CURRENT_START) -> Callable[[Frames], None]:
    """A `share` of the predictions made since `since` scored 1 - score (a flipped score pipeline)."""

    def edit(frames: Frames) -> None:
        predictions = frames["predictions"]
        rows = _sample(_predicted_in(frames, since), share)
        predictions.loc[rows, "score"] = 1.0 - predictions.loc[rows, "score"]

    return edit


OUTSIDE = "lie outside the reference's domain"
NEW_SCALE = "arrive on a new scale"
EARLY = "earlier than their prediction's"
BACKWARDS = "rank outcomes backwards"

BROKEN: tuple[LabelCase, ...] = (
    LabelCase("0 -> -1, all", TRAIN_STORY, 0, recode(0, -1, 1.0), "label_domain", OUTSIDE),
    LabelCase("0 -> -1, 3%", TRAIN_STORY, 1, recode(0, -1, 0.03), "label_domain", OUTSIDE),
    LabelCase("1 -> 5, 30%", TRAIN_STORY, 0, recode(1, 5, 0.3), "label_domain", OUTSIDE),
    LabelCase("1 -> 5, all", TRAIN_STORY, 1, recode(1, 5, 1.0), "label_domain", OUTSIDE),
    LabelCase("1 -> 1e300, 1%", TRAIN_STORY, 1, recode(1, 1e300, 0.01), "label_domain", OUTSIDE),
    LabelCase("soft 0.5, 3%", TRAIN_STORY, 0, soft_labels(0.03), "label_domain", OUTSIDE),
    LabelCase("soft 0.5, 30%", TRAIN_STORY, 1, soft_labels(0.3), "label_domain", OUTSIDE),
    LabelCase("-1/1 code -> 0/1, all", TRAIN_STORY, 0, coded_minus_one(1.0), "label_domain", OUTSIDE),
    LabelCase("-1/1 code -> 0/1, 10%", TRAIN_STORY, 1, coded_minus_one(0.1), "label_domain", OUTSIDE),
    LabelCase("amount x100", TRAIN_STORY, 0, regression_label(100.0), "label_domain", NEW_SCALE),
    LabelCase("amount x1000", TRAIN_STORY, 1, regression_label(1000.0), "label_domain", NEW_SCALE),
    LabelCase("amount x0.01", TRAIN_STORY, 0, regression_label(0.01), "label_domain", NEW_SCALE),
    LabelCase("counts + 0.5, all", TRAIN_STORY, 0, count_label(1.0), "label_domain", OUTSIDE),
    LabelCase(
        "1 -> 2 since the reference's last 2 days",
        TRAIN_STORY,
        0,
        recode(1, 2, 1.0, pd.Timestamp("2024-04-25")),
        "label_domain",
        "(values 0/1 before 2024-04-25;",
    ),
    LabelCase(
        "0 -> -1 since the reference's last 13 days",
        TRAIN_STORY,
        1,
        recode(0, -1, 1.0, pd.Timestamp("2024-04-14")),
        "label_domain",
        "(values 0/1 before 2024-04-14;",
    ),
    LabelCase(
        "-1/1 code -> 0/1 since the reference's last 6 days",
        TRAIN_STORY,
        2,
        coded_minus_one(1.0, pd.Timestamp("2024-04-21")),
        "label_domain",
        "(values -1/1 before 2024-04-21;",
    ),
    LabelCase(
        "counts + 0.5 since the reference's last 5 days",
        TRAIN_STORY,
        2,
        count_label(1.0, pd.Timestamp("2024-04-22")),
        "label_domain",
        "(whole numbers before 2024-04-22;",
    ),
    LabelCase("counts + 0.5, 5%", TRAIN_STORY, 1, count_label(0.05), "label_domain", OUTSIDE),
    LabelCase("early labels, all", TRAIN_STORY, 0, labels_before_predictions(1.0), "label_timing", EARLY),
    LabelCase("early labels, 20%", TRAIN_STORY, 1, labels_before_predictions(0.2), "label_timing", EARLY),
    LabelCase("early labels, 3%", TRAIN_STORY, 0, labels_before_predictions(0.03), "label_timing", EARLY),
    LabelCase(
        "early reference labels, 20%",
        TRAIN_STORY,
        1,
        labels_before_predictions(0.2, "reference"),
        "label_timing",
        EARLY,
    ),
    LabelCase("inverted, all", "healthy", 0, inverted_scores(1.0), "score_inversion", BACKWARDS),
    LabelCase("inverted, 80%", "healthy", 1, inverted_scores(0.8), "score_inversion", BACKWARDS),
    LabelCase(
        "inverted, last 5 days",
        TRAIN_STORY,
        0,
        inverted_scores(1.0, pd.Timestamp("2024-05-27")),
        "score_inversion",
        BACKWARDS,
    ),
    LabelCase(
        "inverted, all (train story)", TRAIN_STORY, 2, inverted_scores(1.0), "score_inversion", BACKWARDS
    ),
)
"""Each must end in fix_features, decided first by `check`."""

SOUND: tuple[LabelCase, ...] = (
    *(LabelCase(f"healthy, seed {seed}", "healthy", seed, None, branch="skip") for seed in (0, 1, 2)),
    *(LabelCase(f"train story, seed {seed}", TRAIN_STORY, seed, None, branch="train") for seed in (0, 1, 2)),
    LabelCase("boolean labels", TRAIN_STORY, 0, boolean_labels, branch="train"),
    LabelCase("amount x1.3 (a real change)", TRAIN_STORY, 0, regression_label(1.3)),
    LabelCase("amount +15 (a real change)", TRAIN_STORY, 1, regression_label(shift=15.0)),
    LabelCase("counts", TRAIN_STORY, 1, count_label(0.0)),
)
"""On each, the label and score checks pass or cannot judge, and the stories keep their branches."""
