"""What a check receives: the profiles of one gate run, the windows, and the policy's statistics settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from airflow_retrain_gate.core.findings import NOT_CONFIGURED, Action, Finding, Status
from airflow_retrain_gate.core.profiling.profile_set import ProfileSet
from airflow_retrain_gate.core.timeframes import TimeWindow

if TYPE_CHECKING:
    from airflow_retrain_gate.core.policy import Policy


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
