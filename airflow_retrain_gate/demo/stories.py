"""The stories of the design, each a change to a healthy world at a chosen magnitude (1 = typical).

Every story names the branch it calls for and the check that should decide it. Magnitudes from 0.5
(subtle) to 2 (blatant) and different seeds give the tests their spread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from airflow_retrain_gate.demo.world import World, WorldConfig, generate, resample_segments, tables


@dataclass(frozen=True)
class Story:
    """A story: how it changes the world, and what the gate should answer."""

    name: str
    title: str
    branch: str
    deciding_check: str | None
    """The check whose finding should decide (None: every check passes or only notes)."""
    apply: Callable[[World, float], None]
    versions: tuple[str, ...] = ()
    """Version columns of the predictions its policy maps (change_attribution); other stories map none, so
    tables built by hand for them need no version column."""


def _healthy(world: World, magnitude: float) -> None:
    """Nothing changes."""


def _dead_signal(world: World, magnitude: float) -> None:
    """engagement_rate stops updating: the last days (or the whole window) repeat one value."""
    frozen_days = (
        world.config.current_days
        if world.config.seed % 2
        else min(2 + round(2 * magnitude), world.config.current_days)
    )
    mask = world.current_days_from(world.config.current_days - frozen_days)
    world.engagement_rate[mask] = round(float(world.engagement_rate[~mask][-1]), 4)


def _scale_change(world: World, magnitude: float) -> None:
    """basket_value arrives in cents (x100), milli-units (x1000) or hundreds (/100) from some day on."""
    factor = (100.0, 1000.0, 0.01)[world.config.seed % 3]
    start = 0 if world.config.seed % 2 == 0 else 3
    world.basket_value[world.current_days_from(start)] *= factor


def _pipeline_lag(world: World, magnitude: float) -> None:
    """The feature pipeline stopped delivering the last days (predictions kept coming)."""
    missing_days = 1 + int(np.ceil(1.5 * magnitude))
    world.features_present[world.current_days_from(world.config.current_days - missing_days)] = False


def _stale_taxonomy(world: World, magnitude: float) -> None:
    """New query intents appear that the categoriser maps to 'other' (or passes through unmapped)."""
    mask = world.current_days_from(0 if world.config.seed % 2 == 0 else 2)
    moved = mask & (world.rng.uniform(0, 1, len(mask)) < 0.05 + 0.06 * magnitude)
    if world.config.seed % 3 == 2:
        world.query_intent[moved] = world.rng.choice(
            ["crypto_refund", "ai_assistant", "bnpl_dispute"], size=int(moved.sum())
        )
    else:
        world.query_intent[moved] = "other"


def _biased_training_signals(world: World, magnitude: float) -> None:
    """The training window fills with inactive users, UI-experiment rows or incomplete dark-launch feedback."""
    mask = world.current
    extra = world.rng.uniform(0, 1, len(mask)) < 0.06 + 0.08 * magnitude
    kind = world.config.seed % 3
    if kind == 0:
        world.user_active[mask & extra] = 0
    elif kind == 1:
        world.experiment_arm[mask & extra] = "ui_test_bigger_thumbnails"
    else:
        world.feedback_complete[mask & extra] = 0


def _transient_campaign(world: World, magnitude: float) -> None:
    """A weekend campaign brings a burst of new users with different features; an events row records it."""
    first = world.config.days - world.config.current_days
    weekend = [d for d in range(first, world.config.days - 1) if world.day_start(d).weekday() == 5][:1]
    start = weekend[0] if weekend else first + 2
    campaign_days = [start, start + 1]
    in_campaign = np.isin(world.day, campaign_days)
    extra = int(in_campaign.sum() * (0.6 + 0.6 * magnitude))
    add_campaign(world, in_campaign, extra, start, start + 2, "Weekend promo")


def add_campaign(
    world: World, in_campaign: np.ndarray, extra: int, first_day: int, end_day: int, description: str
) -> None:
    """Append `extra` newcomers (short tenure, low engagement, promo intent, consumer segment) on the days of the
    rows in `in_campaign`, and declare the campaign (days `first_day` to `end_day`, exclusive) in the events."""
    _append_rows(world, world.rng.choice(np.nonzero(in_campaign)[0], size=extra))
    newcomers = np.zeros(len(world.day), dtype=bool)
    newcomers[-extra:] = True
    world.tenure_score[newcomers] = world.rng.normal(22.0, 8.0, extra)
    world.engagement_rate[newcomers] = world.rng.beta(1.5, 6.0, extra)
    world.query_intent[newcomers] = "promo"
    world.segment[newcomers] = "consumer"
    world.extra_events.append(
        {
            "starts_at": world.day_start(first_day),
            "ends_at": world.day_start(end_day),
            "kind": "campaign",
            "description": description,
        }
    )


def _append_rows(world: World, template_rows: np.ndarray) -> None:
    """Duplicate rows (new entities on the same days); per-row noise is redrawn."""
    rng, size = world.rng, len(template_rows)
    for name in (
        "day",
        "segment",
        "tenure_score",
        "basket_value",
        "engagement_rate",
        "query_intent",
        "user_active",
        "experiment_arm",
        "feedback_complete",
        "override_rate",
        "features_present",
        "prompt_version",
    ):
        values = getattr(world, name)
        setattr(world, name, np.concatenate([values, values[template_rows]]))
    offsets = (rng.uniform(0, 86400, size) * 1_000_000).astype("timedelta64[us]")
    day_starts = np.datetime64(world.config.start.replace(tzinfo=None), "us") + (
        world.day[-size:] * 86400 * 1_000_000
    ).astype("timedelta64[us]")
    world.ts = np.concatenate([world.ts, day_starts + offsets])
    world.true_logit_noise = np.concatenate([world.true_logit_noise, rng.normal(0.0, 0.5, size)])
    world.label_delay_days = np.concatenate([world.label_delay_days, rng.exponential(1.5, size)])
    world.click_noise = np.concatenate([world.click_noise, rng.uniform(0, 1, size)])
    world.override_draw = np.concatenate([world.override_draw, rng.uniform(0, 1, size)])
    world.in_overrides = np.concatenate([world.in_overrides, rng.uniform(0, 1, size) < 0.4])


def _proxy_misaligned(world: World, magnitude: float) -> None:
    """Bigger thumbnails: accidental clicks with almost no dwell; real outcomes unchanged."""
    world.accidental_click_rate = np.where(world.current, 0.05 * (1 + magnitude), 0.0)


def _kpi_band_misaligned(world: World, magnitude: float) -> None:
    """A new pattern the model scores low: the predicted-low band's claim rate rises; other bands hold."""
    score = 1.0 / (1.0 + np.exp(-world.model_logit()))
    low = score < 0.08
    world.extra_positive_rate = np.where(world.current & low, 0.03 * (1 + magnitude), 0.0)


def _trust_decay(world: World, magnitude: float) -> None:
    """Reviewers override the model more and more often."""
    world.override_rate = np.where(world.current, 0.03 * (1.5 + magnitude), world.override_rate)


def _segment_mix_shift(world: World, magnitude: float) -> None:
    """Enterprise customers grow as a share; each segment behaves as before."""
    enterprise = min(0.2 + 0.15 * magnitude, 0.7)
    shares = np.array([0.5, 0.3, 0.0]) * (1 - enterprise) / 0.8
    shares[2] = enterprise
    resample_segments(world, world.current, shares / shares.sum())


def _concept_drift(world: World, magnitude: float) -> None:
    """The outcome's relation to the inputs changes for good: rates shift, or the score stops separating."""
    current = world.current
    if world.config.seed % 2 == 0:
        world.label_logit_shift = np.where(current, 0.5 + 0.4 * magnitude, 0.0)
    else:
        world.label_slope = np.where(current, max(0.1, 1.0 - 0.8 * magnitude), 1.0)


def _prompt_release(world: World, magnitude: float) -> None:
    """Prompt v12 ships during the current window (seed 1: on its first day; seed 2: to a third of the traffic
    for two days first) and its answers get less positive feedback: the outcome rate of its rows falls."""
    variant = world.config.seed % 3
    shipped = world.current_days_from((2, 0, 1)[variant])
    if variant == 2:
        held_back = ~world.current_days_from(3) & (world.rng.uniform(0, 1, len(shipped)) < 2 / 3)
        shipped &= ~held_back
    world.prompt_version[shipped] = "v12"
    world.label_logit_shift = np.where(shipped, -(0.5 + 0.4 * magnitude), 0.0)


def _hidden_concept_change(world: World, magnitude: float) -> None:
    """Class regions move in feature space: at an equal score, long-tenure customers now carry more risk and
    short-tenure ones less, so each score bin keeps its outcome rate. Baskets and engagement also narrow, so the
    scores bunch in the middle deciles and AUC drops as the score mix predicts; a refit on tenure recovers it."""
    current = world.current
    narrowing = 1.0 / (1.0 + 0.5 * magnitude)
    engagement_centre = 2.0 / 7.0  # the mean of the Beta(2, 5) engagement rates
    world.engagement_rate[current] = engagement_centre + narrowing * (
        world.engagement_rate[current] - engagement_centre
    )
    world.basket_value[current] = np.exp(3.5 + narrowing * (np.log(world.basket_value[current]) - 3.5))
    # Tenure within each narrow score bin, centred there: the risk it adds or removes averages out per score bin.
    score_bin = pd.qcut(world.model_logit()[current], 40, labels=False, duplicates="drop")
    tenure = pd.Series(world.tenure_score[current])
    by_bin = tenure.groupby(score_bin)
    standing = ((tenure - by_bin.transform("mean")) / by_bin.transform("std")).clip(-1.5, 1.5) / 1.5
    standing -= standing.groupby(score_bin).transform("mean")
    world.risk_factor = np.ones(len(world.day))
    world.risk_factor[current] = 1.0 + min(0.3 + 0.3 * magnitude, 0.9) * standing.to_numpy()


def _stable_harmless_drift(world: World, magnitude: float) -> None:
    """Customers' tenure scores rise for good; outcome given the inputs is unchanged."""
    world.tenure_score[world.current] += 6.0 + 4.0 * magnitude


STORIES: dict[str, Story] = {
    story.name: story
    for story in (
        Story("healthy", "Healthy tables", "skip", None, _healthy),
        Story("dead_signal", "A source metric stopped updating", "fix_features", "dead_signal", _dead_signal),
        Story(
            "scale_change", "A column arrives on a new scale", "fix_features", "scale_shift", _scale_change
        ),
        Story("pipeline_lag", "Features arrive late", "fix_features", "freshness", _pipeline_lag),
        Story(
            "stale_taxonomy",
            "New intents mapped to 'other'",
            "fix_features",
            "category_coverage",
            _stale_taxonomy,
        ),
        Story(
            "biased_training_signals",
            "Biased rows in the training window",
            "fix_features",
            "training_signal_hygiene",
            _biased_training_signals,
        ),
        Story(
            "transient_campaign",
            "A weekend campaign (in the events table)",
            "alert",
            "known_events",
            _transient_campaign,
        ),
        Story(
            "proxy_misaligned", "Clicks up, engagement flat", "alert", "proxy_alignment", _proxy_misaligned
        ),
        Story(
            "kpi_band_misaligned",
            "Claim rate of the low band rises",
            "alert",
            "kpi_by_band",
            _kpi_band_misaligned,
        ),
        Story("trust_decay", "Manual overrides rise", "alert", "trust", _trust_decay),
        Story("segment_mix_shift", "Segment shares moved", "alert", "segment_mix", _segment_mix_shift),
        Story("concept_drift", "Outcome given score changed", "train", "concept_drift", _concept_drift),
        Story(
            "hidden_concept_change",
            "Outcome given the inputs changed, score bins stay calibrated",
            "train",
            "residual_drift",
            _hidden_concept_change,
        ),
        Story(
            "prompt_release",
            "Feedback fell when prompt v12 shipped",
            "alert",
            "change_attribution",
            _prompt_release,
            versions=("prompt_version",),
        ),
        Story(
            "stable_harmless_drift",
            "Persistent drift that does not hurt",
            "skip",
            None,
            _stable_harmless_drift,
        ),
    )
}


def build_story(
    name: str, *, seed: int = 0, magnitude: float = 1.0, rows_per_day: int = 1500, **world: Any
) -> dict[str, pd.DataFrame]:
    """The tables of story `name` at a magnitude and seed."""
    config = WorldConfig(seed=seed, rows_per_day=rows_per_day, **world)
    generated = generate(config)
    STORIES[name].apply(generated, magnitude)
    return tables(generated)


def story_policy(name: str, prefix: str = "", schema: str | None = None) -> dict[str, Any]:
    """The policy that watches a story's tables (table names `<schema>.<prefix><table>`)."""

    def table(base: str) -> str:
        return f"{schema}.{prefix}{base}" if schema else f"{prefix}{base}"

    story = STORIES.get(name)
    versions = {"versions": list(story.versions)} if story and story.versions else {}

    return {
        "name": f"demo-{name}",
        "windows": {"reference": {"start": "-63d", "end": "-35d"}, "current": {"start": "-7d", "end": "0d"}},
        "tables": {
            "features": {
                "table": table("features"),
                "timestamp": "event_ts",
                "entity": "entity_id",
                "numeric": ["tenure_score", "basket_value", "engagement_rate"],
                "categorical": ["query_intent"],
                "segment": "segment",
            },
            "predictions": {
                "table": table("predictions"),
                "timestamp": "event_ts",
                "entity": "entity_id",
                "score": "score",
                "band": "risk_band",
                "filters": {"model_name": "fraud-scorer"},
                **versions,
            },
            "outcomes": {
                "table": table("outcomes"),
                "entity": "entity_id",
                "label_timestamp": "label_ts",
                "label": "outcome",
                "proxy": "clicked",
                "engagement": "dwell_seconds",
            },
            "overrides": {"table": table("overrides"), "timestamp": "event_ts", "flag": "overridden"},
            "events": {
                "table": table("events"),
                "starts_at": "starts_at",
                "ends_at": "ends_at",
                "kind": "kind",
                "description": "description",
            },
            "training_signals": {
                "table": table("training_signals"),
                "timestamp": "event_ts",
                "active": "user_active",
                "experiment_arm": "experiment_arm",
                "control_arm": "control",
                "feedback_complete": "feedback_complete",
            },
        },
        "cooldown": "7d",
        "on_error": "alert",
    }
