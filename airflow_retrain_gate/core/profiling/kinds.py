"""The kinds of profile a gate run computes, and the policy setting that maps each."""

from __future__ import annotations

from enum import StrEnum


class ProfileKind(StrEnum):
    """A kind of profile: what a check reads (`register(reads=...)`), a profiling step and a cache key part.

    String-valued, so a kind compares equal to its name and hashes into cache keys as before.
    """

    SCHEMA = "schema"
    FEATURES = "features"
    PREDICTIONS = "predictions"
    KEYS = "keys"
    OUTCOMES = "outcomes"
    CLASSES = "classes"
    """Per class aggregates of a multiclass model; computed with the outcomes, cached under their own kind."""
    RESIDUALS = "residuals"
    VERSIONS = "versions"
    OVERRIDES = "overrides"
    TRAINING_SIGNALS = "training_signals"
    EVENTS = "events"
    EXPECTATIONS = "expectations"

    @property
    def mapped_by(self) -> str:
        """The policy setting that maps this kind, as a message names it."""
        return _MAPPED_BY[self]


_MAPPED_BY = {
    ProfileKind.SCHEMA: "tables.features",
    ProfileKind.FEATURES: "tables.features",
    ProfileKind.PREDICTIONS: "tables.predictions",
    ProfileKind.KEYS: "tables.features",
    ProfileKind.OUTCOMES: "tables.outcomes",
    ProfileKind.CLASSES: "tables.outcomes.classes",
    ProfileKind.RESIDUALS: "tables.features.entity",
    ProfileKind.VERSIONS: "tables.predictions.versions (or tables.events)",
    ProfileKind.OVERRIDES: "tables.overrides",
    ProfileKind.TRAINING_SIGNALS: "tables.training_signals",
    ProfileKind.EVENTS: "tables.events",
    ProfileKind.EXPECTATIONS: "checks.expectations.suite",
}
