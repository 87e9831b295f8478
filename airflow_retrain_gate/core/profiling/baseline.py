"""The baseline: the bins a table's day parts are counted on, pinned so that parts stay reusable.

Bins derived from the reference window would move every day as the window slides, and no part could be reused.
The baseline is derived from the reference window on first use and kept until the table's mapping or the profile
settings change (they are part of its key) or the model is retrained: a `train` carried out under the policy
after the baseline starts a new one (its time is part of the key too). The features and the score pin their
histogram bins and tracked categories (`FeatureBinning`); the outcomes pin their score bins, bands and label
domain (`OutcomeBinning`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from airflow_retrain_gate.core.profiling.cache import ProfileCache, cache_key
from airflow_retrain_gate.core.profiling.features import FeatureBinning
from airflow_retrain_gate.core.profiling.kinds import ProfileKind
from airflow_retrain_gate.core.profiling.outcomes import OutcomeBinning
from airflow_retrain_gate.core.timeframes import TimeWindow

Binning = TypeVar("Binning", FeatureBinning, OutcomeBinning)


@dataclass(frozen=True)
class Baseline(Generic[Binning]):
    """Pinned bins of one table, the column types seen when they were pinned, and the window they came from."""

    binning: Binning
    column_types: dict[str, str]
    reference: TimeWindow


@dataclass(frozen=True)
class BaselineStore:
    """Baselines in the profile cache, one per table identity and training epoch."""

    cache: ProfileCache
    trained_at: datetime | None
    """The latest train carried out under the policy before the run (None: never): the epoch of the baseline."""

    def load(
        self, kind: ProfileKind, identity: dict[str, Any], binning: type[Binning]
    ) -> Baseline[Binning] | None:
        """The baseline of this epoch, its bins read as `binning`, or None (none yet, or the cache cannot be
        read)."""
        key = self._key(kind, identity)
        entry = self.cache.get_many([key]).get(key)
        if not isinstance(entry, dict):
            return None
        return Baseline(binning.from_dict(entry["binning"]), dict(entry["column_types"]), entry["reference"])

    def store(
        self, kind: ProfileKind, identity: dict[str, Any], table: str, baseline: Baseline[Binning]
    ) -> None:
        """Pin `baseline` for this epoch (if another gate pinned one first, theirs stays)."""
        entry = {
            "binning": baseline.binning.to_dict(),
            "column_types": baseline.column_types,
            "reference": baseline.reference,
        }
        self.cache.put_many(kind, table, [(self._key(kind, identity), baseline.reference, entry)])

    def _key(self, kind: ProfileKind, identity: dict[str, Any]) -> str:
        since = None if self.trained_at is None else self.trained_at.isoformat()
        return cache_key(kind, {**identity, "baseline_since": since}, None)
