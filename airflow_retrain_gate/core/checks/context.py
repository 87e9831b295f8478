"""What a check receives: the profiles of one gate run, the windows, and the policy's statistics settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from airflow_retrain_gate.core.findings import NOT_CONFIGURED, Action, Finding, Status
from airflow_retrain_gate.core.profiles import (
    DailyCounts,
    EventRecord,
    KeyCounts,
    MulticlassProfile,
    OutcomeProfile,
    ResidualProfile,
    TableProfile,
    VersionProfile,
)
from airflow_retrain_gate.core.timeframes import TimeWindow

if TYPE_CHECKING:
    from airflow_retrain_gate.core.policy import Policy
    from airflow_retrain_gate.core.warehouse import TableInfo

PROFILE_KINDS = (
    "schema",
    "features",
    "predictions",
    "keys",
    "outcomes",
    "residuals",
    "versions",
    "overrides",
    "training_signals",
    "events",
    "expectations",
)
"""Profile kinds checks can read; each maps to the policy table of the same name (schema, expectations: features)."""


@dataclass(frozen=True)
class ProfileSet:
    """Every profile a gate run computed, with the error or absence of those it could not."""

    features_reference: TableProfile | None = None
    features_current: TableProfile | None = None
    latest_feature_timestamp: datetime | None = None
    feature_schema: TableInfo | None = None
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
    expectation_results: tuple[dict[str, Any], ...] = ()
    errors: dict[str, str] = field(default_factory=dict)
    """Profile kind -> why it could not be computed (missing table, warehouse error ...)."""
    unmapped: frozenset[str] = frozenset()
    """Profile kinds whose tables the policy does not map."""


@dataclass(frozen=True)
class CheckInputs:
    """Everything a check may read: profiles, windows, as_of and the policy (for shared thresholds)."""

    profiles: ProfileSet
    policy: Policy
    as_of: datetime
    reference: TimeWindow
    current: TimeWindow
    derived: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    """Analyses several checks read (the drift of every column), computed once per gate run."""

    def derive(self, name: str, compute: Callable[[], Any]) -> Any:
        """The analysis `name`, computed by `compute` the first time a check asks for it."""
        if name not in self.derived:
            self.derived[name] = compute()
        return self.derived[name]

    @property
    def alpha(self) -> float:
        """Significance level of every test."""
        return self.policy.statistics.alpha

    @property
    def large_sample(self) -> int:
        """Sample size above which effect sizes alone decide."""
        return self.policy.statistics.large_sample

    @property
    def min_rows(self) -> int:
        """Rows a window needs before a comparison is judged."""
        return self.policy.statistics.min_rows

    def material(self, value: float, threshold: float, p_value: float, sample_size: float) -> bool:
        """Whether an effect reaches its threshold and (on small samples) is significant."""
        from airflow_retrain_gate.core.stats import is_material

        return is_material(value, threshold, p_value, sample_size, self.alpha, self.large_sample)


def outcome(
    check: str,
    subject: str,
    status: Status,
    message: str,
    *,
    action: Action = Action.NONE,
    statistic: str | None = None,
    value: float | None = None,
    threshold: float | None = None,
    evidence: dict[str, Any] | None = None,
) -> Finding:
    """Build a finding; keeps check modules short."""
    return Finding(
        check=check,
        subject=subject,
        status=status,
        action=action if status is Status.FAIL else Action.NONE,
        message=message,
        statistic=statistic,
        value=value,
        threshold=threshold,
        evidence=evidence or {},
    )


def not_configured(check: str, subject: str, wanted: str, message: str) -> Finding:
    """The insufficient_data finding of an optional check whose column the policy does not map (`wanted`, the
    policy path to set); such findings share one closing reason."""
    return outcome(check, subject, Status.INSUFFICIENT_DATA, message, evidence={NOT_CONFIGURED: wanted})
