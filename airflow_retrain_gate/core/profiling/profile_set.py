"""What profiling hands the checks: every profile of one gate run, with the error or absence of the others."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from airflow_retrain_gate.core.profiling.expectation_result import ExpectationResult
from airflow_retrain_gate.core.profiling.kinds import ProfileKind
from airflow_retrain_gate.core.profiling.profiles import (
    DailyCounts,
    EventRecord,
    KeyCounts,
    MulticlassProfile,
    OutcomeProfile,
    ResidualProfile,
    TableProfile,
    VersionProfile,
)
from airflow_retrain_gate.core.profiling.table_schema import TableSchema


@dataclass(frozen=True)
class ProfileSet:
    """Every profile a gate run computed, with the error or absence of those it could not."""

    features_reference: TableProfile | None = None
    features_current: TableProfile | None = None
    latest_feature_timestamp: datetime | None = None
    first_feature_timestamp_after_as_of: datetime | None = None
    """Read only when no feature row reaches back to the windows: the earliest row dated after as_of, if any."""
    feature_schema: TableSchema | None = None
    recorded_feature_types: dict[str, str] = field(default_factory=dict)
    """Column types the cached reference profile recorded, looked up when a column's type misfits its role."""
    scores_reference: TableProfile | None = None
    """The predictions table's score column, profiled as a numeric feature."""
    scores_current: TableProfile | None = None
    keys_reference: dict[str, KeyCounts] = field(default_factory=dict)
    """Table role (features, predictions) -> its key counts, for each table whose key is known."""
    keys_current: dict[str, KeyCounts] = field(default_factory=dict)
    outcomes_reference: OutcomeProfile | None = None
    outcomes_current: OutcomeProfile | None = None
    outcomes_have_predictions: bool = False
    residuals_reference: ResidualProfile | None = None
    """Residuals of matured predictions by bin of each feature (predictions joined to features on the entity)."""
    residuals_current: ResidualProfile | None = None
    multiclass_reference: MulticlassProfile | None = None
    """Per class aggregates of a multiclass model (when the policy maps outcomes.classes)."""
    multiclass_current: MulticlassProfile | None = None
    overrides_reference: DailyCounts | None = None
    overrides_current: DailyCounts | None = None
    signals_reference: DailyCounts | None = None
    signals_current: DailyCounts | None = None
    versions_reference: VersionProfile | None = None
    """Outcome sums per day, overall and by value of each version column (change attribution)."""
    versions_current: VersionProfile | None = None
    events: tuple[EventRecord, ...] = ()
    expectation_results: tuple[ExpectationResult, ...] = ()
    errors: dict[ProfileKind, str] = field(default_factory=dict)
    """Profile kind -> why it could not be computed (missing table, warehouse error ...)."""
    unmapped: frozenset[ProfileKind] = frozenset()
    """Profile kinds whose tables the policy does not map."""
