"""Findings: what one check saw about one subject, and which branch it asks for."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

NOT_CONFIGURED = "not_configured"
"""Evidence key of an insufficient_data finding whose check needs a table or an optional column the policy
does not map: the policy paths to map. Such findings share one closing reason instead of one line each."""
EXPLAINS_CHANGE = "explains_change"
"""Evidence key of a passing finding that explains a change people will see (an AUC that fell as the population
shift predicts, while calibration holds): a `skip` leads with its message and "no retrain", instead of "nothing
calls for action"."""


ATTRIBUTED_CHANGE = "attributed_change"
"""Evidence key of a failing finding that attributes a shift to a change (a release, a deploy): the change and its
day. A decision that has one says that the shifts train findings saw are attributed, not retrained on."""


class Status(StrEnum):
    """How a check came out for one subject."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    ERROR = "error"
    INSUFFICIENT_DATA = "insufficient_data"


class Action(StrEnum):
    """What a failing finding asks the DAG to do."""

    NONE = "none"
    FIX_FEATURES = "fix_features"
    ALERT = "alert"
    TRAIN = "train"


class Branch(StrEnum):
    """The four paths a gate can take, strongest first in `PRECEDENCE`."""

    FIX_FEATURES = "fix_features"
    ALERT = "alert"
    TRAIN = "train"
    SKIP = "skip"


PRECEDENCE: tuple[Branch, ...] = (Branch.FIX_FEATURES, Branch.ALERT, Branch.TRAIN, Branch.SKIP)


def json_safe(value: Any) -> Any:
    """Turn numpy scalars, tuples, NaN and infinities into plain JSON values (NaN/inf become None)."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:  # most of a decision: as they are
        return value
    if kind is float:
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


@dataclass(frozen=True)
class Finding:
    """One check's verdict on one subject (a column, a table, a band), with the numbers behind it."""

    check: str
    """The registered check name, as in the policy (``drift``, ``freshness`` ...)."""
    subject: str
    """What was examined: ``table.column``, a table, a band."""
    status: Status
    action: Action
    """What the finding asks for when it decides (status ``fail``); ``none`` otherwise."""
    message: str
    """A sentence an on-call engineer understands without reading code."""
    statistic: str | None = None
    value: float | None = None
    threshold: float | None = None
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def decides(self) -> bool:
        """Whether this finding asks for a branch (a failure with an action)."""
        return self.status is Status.FAIL and self.action is not Action.NONE

    def to_dict(self) -> dict[str, Any]:
        """JSON form of the finding."""
        return json_safe(
            {
                "check": self.check,
                "subject": self.subject,
                "status": self.status.value,
                "action": self.action.value,
                "message": self.message,
                "statistic": self.statistic,
                "value": self.value,
                "threshold": self.threshold,
                "evidence": self.evidence,
            }
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        """Rebuild a finding from `to_dict` output."""
        return cls(
            check=data["check"],
            subject=data["subject"],
            status=Status(data["status"]),
            action=Action(data["action"]),
            message=data["message"],
            statistic=data.get("statistic"),
            value=data.get("value"),
            threshold=data.get("threshold"),
            evidence=dict(data.get("evidence") or {}),
        )
