"""A small synthetic world of a multiclass model: each payment ends `legit`, `fraud` or `chargeback`, and the
model scores the three classes from two features. Its stories change how one class follows the features.

The true class probabilities are the model's softmax logits plus noise the model cannot see, so outcome
given score stays as it was unless a story changes it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

CLASSES = ("legit", "fraud", "chargeback")
CLASS_BIAS = np.array([1.2, 0.0, -0.3])
"""Per class: the logit at average features (about 55% legit, 25% fraud, 20% chargeback)."""
CLASS_WEIGHTS = np.array([[0.0, 0.0], [1.3, -0.5], [-0.4, 1.2]])
"""Per class: the logit's weight on amount_score and velocity_score (legit is the baseline)."""
CHANNELS = np.array(["web", "app", "store"])
CHANNEL_SHARES = np.array([0.5, 0.35, 0.15])
AS_OF = datetime(2024, 6, 1, tzinfo=UTC)


@dataclass(frozen=True)
class MulticlassStory:
    """A multiclass story: how the true class probabilities change in the current window, and the answer."""

    name: str
    title: str
    branch: str
    deciding_checks: frozenset[str]
    """Checks any one of which should decide (empty: nothing decides)."""
    change: Callable[[np.ndarray, np.ndarray, int, float], np.ndarray]
    """(true logits [row, class], features [row, 2], seed, magnitude) -> the true logits in the current window."""


def _unchanged(logits: np.ndarray, features: np.ndarray, seed: int, magnitude: float) -> np.ndarray:
    """Nothing changes."""
    return logits


def _one_class_drifts(logits: np.ndarray, features: np.ndarray, seed: int, magnitude: float) -> np.ndarray:
    """One class (by seed) changes how it follows the inputs for good: it becomes more frequent at every
    score (even seeds), or its weights on the features shrink so its score separates less (odd seeds)."""
    changed = logits.copy()
    target = seed % len(CLASSES)
    if seed % 2 == 0:
        changed[:, target] += 0.5 + 0.4 * magnitude
    else:
        slope = max(0.1, 1.0 - 0.8 * magnitude)
        deviation = logits[:, target] - logits.mean(axis=1)
        changed[:, target] = logits.mean(axis=1) + slope * deviation
    return changed


MULTICLASS_STORIES: dict[str, MulticlassStory] = {
    story.name: story
    for story in (
        MulticlassStory("multiclass_healthy", "A healthy three-class model", "skip", frozenset(), _unchanged),
        MulticlassStory(
            "multiclass_concept_drift",
            "One class follows the inputs differently",
            "train",
            frozenset({"concept_drift", "performance"}),
            _one_class_drifts,
        ),
    )
}


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of a [row, class] array."""
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def build_multiclass_tables(
    story: str,
    *,
    seed: int = 0,
    magnitude: float = 1.0,
    rows_per_day: int = 600,
    days: int = 70,
    current_days: int = 7,
    as_of: datetime = AS_OF,
) -> dict[str, pd.DataFrame]:
    """The features, predictions and outcomes tables of a multiclass story at a magnitude and seed."""
    rng = np.random.default_rng(seed)
    start = as_of - timedelta(days=days)
    day = np.repeat(np.arange(days), rng.poisson(rows_per_day, days))
    size = len(day)
    ts = np.datetime64(start.replace(tzinfo=None), "us") + (
        (day * 86400 + rng.uniform(0, 86400, size)) * 1_000_000
    ).astype("timedelta64[us]")
    features = rng.normal(0.0, 1.0, (size, 2))
    model_logits = CLASS_BIAS + features @ CLASS_WEIGHTS.T
    true_logits = model_logits + rng.normal(0.0, 0.4, (size, len(CLASSES)))
    current = day >= days - current_days
    true_logits[current] = MULTICLASS_STORIES[story].change(
        true_logits[current], features[current], seed, magnitude
    )
    probabilities = softmax(true_logits)
    label = (rng.uniform(0, 1, size)[:, None] > probabilities.cumsum(axis=1)).sum(axis=1)
    scores = softmax(model_logits)
    entity = np.arange(size, dtype=np.int64)
    label_ts = ts + (rng.exponential(1.5, size) * 86400 * 1_000_000).astype("timedelta64[us]")
    return {
        "features": pd.DataFrame(
            {
                "event_ts": ts,
                "entity_id": entity,
                "amount_score": features[:, 0],
                "velocity_score": features[:, 1],
                "channel": CHANNELS[rng.choice(len(CHANNELS), size=size, p=CHANNEL_SHARES)].astype(object),
            }
        ),
        "predictions": pd.DataFrame(
            {
                "event_ts": ts,
                "entity_id": entity,
                **{f"p_{name}": scores[:, index] for index, name in enumerate(CLASSES)},
                "predicted_class": np.asarray(CLASSES, dtype=object)[scores.argmax(axis=1)],
                "confidence": scores.max(axis=1),
            }
        ),
        "outcomes": pd.DataFrame(
            {
                "entity_id": entity,
                "label_ts": label_ts,
                "outcome": np.asarray(CLASSES, dtype=object)[np.minimum(label, len(CLASSES) - 1)],
            }
        ),
    }


def multiclass_policy(
    name: str, *, form: str = "class_scores", prefix: str = "", schema: str | None = None
) -> dict[str, Any]:
    """The policy of a multiclass story's tables: scores per class (`class_scores`), or the predicted class with
    its confidence (`predicted_class`)."""

    def table(base: str) -> str:
        return f"{schema}.{prefix}{base}" if schema else f"{prefix}{base}"

    multiclass: dict[str, Any] = (
        {"class_scores": {name: f"p_{name}" for name in CLASSES}}
        if form == "class_scores"
        else {"predicted_class": "predicted_class"}
    )
    return {
        "name": f"demo-{name}",
        "windows": {"reference": {"start": "-63d", "end": "-35d"}, "current": {"start": "-7d", "end": "0d"}},
        "tables": {
            "features": {
                "table": table("features"),
                "timestamp": "event_ts",
                "entity": "entity_id",
                "numeric": ["amount_score", "velocity_score"],
                "categorical": ["channel"],
            },
            "predictions": {
                "table": table("predictions"),
                "timestamp": "event_ts",
                "entity": "entity_id",
                "score": "confidence",
                **multiclass,
            },
            "outcomes": {
                "table": table("outcomes"),
                "entity": "entity_id",
                "label_timestamp": "label_ts",
                "label": "outcome",
                "classes": list(CLASSES),
            },
        },
        "cooldown": "7d",
        "on_error": "alert",
    }
