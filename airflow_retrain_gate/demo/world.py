"""A small synthetic business whose tables stay healthy unless a story changes them.

Every event row is one scored entity: features, a prediction, an outcome that becomes known after a
delay, maybe a manual override, and a training-signal row. Outcomes follow the features through a
fixed model with noise, so outcome-given-score is stable unless a story changes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

SEGMENTS = np.array(["consumer", "smb", "enterprise"], dtype=object)
SEGMENT_SHARES = np.array([0.5, 0.3, 0.2])
TENURE_OFFSET = np.array([-5.0, 0.0, 10.0])
BASKET_OFFSET = np.array([0.0, 0.3, 0.8])
INTENTS = np.array(
    ["search", "browse", "support", "billing", "returns", "promo", "account", "other"], dtype=object
)
INTENT_SHARES = np.array([0.3, 0.2, 0.12, 0.1, 0.08, 0.07, 0.1, 0.03])
INTENT_RISK = np.array([0.0, -0.2, 0.2, 0.5, 0.3, 0.1, 0.0, 0.2])
UNKNOWN_INTENT_RISK = 0.2
"""The model's risk term for an intent it was not built with (a new taxonomy value, or none)."""
EXPERIMENT_ARMS = np.array(["control", "ui_test_a"], dtype=object)
"""93% of rows are served the control arm."""
BAND_EDGES = (0.08, 0.25)
"""Scores below 0.08 are the 'low' band, below 0.25 'medium', the rest 'high'."""


@dataclass(frozen=True)
class WorldConfig:
    """Size, seed and calendar of a generated world."""

    seed: int = 0
    rows_per_day: int = 1500
    days: int = 70
    as_of: datetime = datetime(2024, 6, 1, tzinfo=UTC)
    current_days: int = 7

    @property
    def start(self) -> datetime:
        """The first generated instant."""
        return self.as_of - timedelta(days=self.days)


def sigmoid(values: np.ndarray) -> np.ndarray:
    """The logistic function."""
    return 1.0 / (1.0 + np.exp(-values))


@dataclass
class World:
    """Row-aligned arrays of one generated world; stories edit them before `tables()`."""

    config: WorldConfig
    rng: np.random.Generator
    ts: np.ndarray
    day: np.ndarray
    """Day index from the start (0 .. days-1)."""
    segment: np.ndarray
    tenure_score: np.ndarray
    basket_value: np.ndarray
    engagement_rate: np.ndarray
    query_intent: np.ndarray
    true_logit_noise: np.ndarray
    label_delay_days: np.ndarray
    click_noise: np.ndarray
    user_active: np.ndarray
    experiment_arm: np.ndarray
    feedback_complete: np.ndarray
    override_draw: np.ndarray
    override_rate: np.ndarray
    in_overrides: np.ndarray
    features_present: np.ndarray
    prompt_version: np.ndarray
    """The prompt (or app) version each row was served with; one version unless a story ships another."""
    extra_events: list[dict[str, object]] = field(default_factory=list)
    label_logit_shift: np.ndarray | None = None
    label_slope: np.ndarray | None = None
    extra_positive_rate: np.ndarray | None = None
    risk_factor: np.ndarray | None = None
    """Per row, multiplies the probability of a positive outcome (clipped to 1): risk that moves at equal score."""
    accidental_click_rate: np.ndarray | None = None

    @property
    def current(self) -> np.ndarray:
        """Mask of rows in the current window (the last `current_days` days)."""
        return self.day >= self.config.days - self.config.current_days

    def current_days_from(self, offset: int) -> np.ndarray:
        """Mask of rows from day `offset` of the current window on (0 = its first day)."""
        return self.day >= self.config.days - self.config.current_days + offset

    def day_start(self, day_index: int) -> datetime:
        """The UTC midnight starting day `day_index`."""
        return self.config.start + timedelta(days=int(day_index))

    def model_logit(self) -> np.ndarray:
        """The deployed model's logit: it sees the features, not the noise."""
        codes, intents = pd.factorize(self.query_intent)  # a missing intent gets code -1: the last entry
        risk_by_intent = dict(zip(INTENTS, INTENT_RISK, strict=True))
        intent_risk = np.array(
            [risk_by_intent.get(intent, UNKNOWN_INTENT_RISK) for intent in intents] + [UNKNOWN_INTENT_RISK]
        )[codes]
        return (
            -1.6
            - 0.05 * (self.tenure_score - 50.0)
            + 0.8 * (np.log(np.maximum(self.basket_value, 1e-6)) - 3.5)
            - 3.0 * (self.engagement_rate - 0.28)
            + intent_risk
        )


def generate(config: WorldConfig) -> World:
    """A healthy world of `config.days` days before `config.as_of`."""
    rng = np.random.default_rng(config.seed)
    weekday_factor = np.array([1.0, 1.0, 1.0, 1.0, 1.05, 0.85, 0.85])
    counts = []
    for offset in range(config.days):
        weekday = (config.start + timedelta(days=offset)).weekday()
        counts.append(rng.poisson(config.rows_per_day * weekday_factor[weekday]))
    day = np.repeat(np.arange(config.days), counts)
    size = len(day)
    seconds = rng.uniform(0, 86400, size)
    base = np.datetime64(config.start.replace(tzinfo=None), "us")
    ts = (
        base
        + (day * 86400 * 1_000_000).astype("timedelta64[us]")
        + (seconds * 1_000_000).astype("timedelta64[us]")
    )
    segment_index = rng.choice(len(SEGMENTS), size=size, p=SEGMENT_SHARES)
    world = World(
        config=config,
        rng=rng,
        ts=ts,
        day=day,
        segment=SEGMENTS[segment_index],
        tenure_score=rng.normal(50.0 + TENURE_OFFSET[segment_index], 10.0),
        basket_value=np.exp(rng.normal(3.3 + BASKET_OFFSET[segment_index], 0.5)),
        engagement_rate=rng.beta(2.0, 5.0, size),
        query_intent=INTENTS[rng.choice(len(INTENTS), size=size, p=INTENT_SHARES)],
        true_logit_noise=rng.normal(0.0, 0.5, size),
        label_delay_days=rng.exponential(1.5, size),
        click_noise=rng.uniform(0, 1, size),
        user_active=(rng.uniform(0, 1, size) < 0.96).astype(int),
        experiment_arm=EXPERIMENT_ARMS[(rng.uniform(0, 1, size) >= 0.93).astype(int)],
        feedback_complete=(rng.uniform(0, 1, size) < 0.985).astype(int),
        override_draw=rng.uniform(0, 1, size),
        override_rate=np.full(size, 0.03),
        in_overrides=rng.uniform(0, 1, size) < 0.4,
        features_present=np.ones(size, dtype=bool),
        prompt_version=np.full(size, "v11", dtype=object),
    )
    return world


def resample_segments(world: World, mask: np.ndarray, shares: np.ndarray) -> None:
    """Redraw the segment of rows in `mask` with new shares, and their features from that segment."""
    rng, size = world.rng, int(mask.sum())
    index = rng.choice(len(SEGMENTS), size=size, p=shares)
    world.segment[mask] = SEGMENTS[index]
    world.tenure_score[mask] = rng.normal(50.0 + TENURE_OFFSET[index], 10.0)
    world.basket_value[mask] = np.exp(rng.normal(3.3 + BASKET_OFFSET[index], 0.5))


def tables(world: World) -> dict[str, pd.DataFrame]:
    """The world's warehouse tables: features, predictions, outcomes, overrides, events, training_signals."""
    rng_state = np.random.default_rng(world.config.seed + 1_000_003)
    logit = world.model_logit()
    score = sigmoid(logit)
    true_logit = logit + world.true_logit_noise
    if world.label_logit_shift is not None:
        true_logit = true_logit + world.label_logit_shift
    if world.label_slope is not None:
        centre = np.median(true_logit)
        true_logit = centre + world.label_slope * (true_logit - centre)
    probability = sigmoid(true_logit)
    if world.risk_factor is not None:
        probability = np.clip(probability * world.risk_factor, 0.0, 1.0)
    if world.extra_positive_rate is not None:
        probability = probability + (1 - probability) * world.extra_positive_rate
    outcome = (rng_state.uniform(0, 1, len(score)) < probability).astype(int)
    click_probability = sigmoid(-2.2 + 4.0 * world.engagement_rate)
    clicked = world.click_noise < click_probability
    dwell = np.where(clicked, rng_state.gamma(2.0, 25.0, len(score)), np.nan)
    if world.accidental_click_rate is not None:
        accidental = (~clicked) & (rng_state.uniform(0, 1, len(score)) < world.accidental_click_rate)
        clicked = clicked | accidental
        dwell = np.where(accidental, rng_state.gamma(1.0, 3.0, len(score)), dwell)
    band = np.where(score < BAND_EDGES[0], "low", np.where(score < BAND_EDGES[1], "medium", "high"))
    entity = np.arange(len(score), dtype=np.int64)
    ts = world.ts
    present = world.features_present
    features = pd.DataFrame(
        {
            "event_ts": ts[present],
            "entity_id": entity[present],
            "segment": world.segment[present],
            "tenure_score": world.tenure_score[present],
            "basket_value": world.basket_value[present],
            "engagement_rate": world.engagement_rate[present],
            "query_intent": world.query_intent[present],
        }
    )
    predictions = pd.DataFrame(
        {
            "event_ts": ts,
            "entity_id": entity,
            "model_name": "fraud-scorer",
            "score": score,
            "risk_band": band,
            "prompt_version": world.prompt_version,
        }
    )
    label_ts = ts + (world.label_delay_days * 86400 * 1_000_000).astype("timedelta64[us]")
    outcomes = pd.DataFrame(
        {
            "entity_id": entity,
            "label_ts": label_ts,
            "outcome": outcome,
            "clicked": clicked.astype(int),
            "dwell_seconds": dwell,
        }
    )
    chosen = world.in_overrides
    overrides = pd.DataFrame(
        {
            "event_ts": ts[chosen],
            "entity_id": entity[chosen],
            "overridden": (world.override_draw[chosen] < world.override_rate[chosen]).astype(int),
        }
    )
    events = pd.DataFrame(
        [
            {
                "starts_at": world.day_start(world.config.days - 45),
                "ends_at": world.day_start(world.config.days - 44),
                "kind": "newsletter",
                "description": "Monthly newsletter",
            },
            *world.extra_events,
        ]
    )
    events["starts_at"] = pd.to_datetime(events["starts_at"], utc=True).dt.tz_localize(None)
    events["ends_at"] = pd.to_datetime(events["ends_at"], utc=True).dt.tz_localize(None)
    signals = pd.DataFrame(
        {
            "event_ts": ts,
            "entity_id": entity,
            "user_active": world.user_active,
            "experiment_arm": world.experiment_arm,
            "feedback_complete": world.feedback_complete,
        }
    )
    return {
        "features": features,
        "predictions": predictions,
        "outcomes": outcomes,
        "overrides": overrides,
        "events": events,
        "training_signals": signals,
    }
