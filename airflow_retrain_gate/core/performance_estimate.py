"""Performance before labels arrive: the AUC and outcome rate the current predictions should show once their
labels mature, if each score group keeps the reference's outcome rate (confidence-based performance
estimation, with the reference's outcome rate per score group as the calibration). From aggregates only:
the reference's matured labels per score bin and the current window's predictions per score bin."""

from __future__ import annotations

import math
from dataclasses import dataclass

from airflow_retrain_gate.core import stats
from airflow_retrain_gate.core.profiling.profiles import OutcomeProfile
from airflow_retrain_gate.core.score_mix import expected_auc, expected_mean, reference_means, score_groups


@dataclass(frozen=True)
class PerformanceEstimate:
    """The AUC and outcome rate the current scores promise at the reference's outcome given score, beside what
    the reference's own scores promise; `drop` is the AUC the current mix of scores is expected to lose."""

    estimated_auc: float
    reference_auc: float
    """The same estimate on the reference's scores, so a drop is the change of the score mix alone."""
    drop: float
    p_value: float
    estimated_rate: float
    reference_rate: float
    predictions: int
    """Scored predictions of the current window the estimate covers."""

    def to_evidence(self) -> dict[str, float | int]:
        """The estimate as finding evidence."""
        return {
            "estimated_auc": self.estimated_auc,
            "reference_estimated_auc": self.reference_auc,
            "estimated_auc_drop": self.drop,
            "p_value": self.p_value,
            "estimated_outcome_rate": self.estimated_rate,
            "reference_outcome_rate": self.reference_rate,
            "predictions": self.predictions,
        }

    def describe(self) -> str:
        """One sentence: what the current scores promise against what the reference's promised."""
        return (
            f"at the reference's outcome given score, the current scores promise an AUC of about "
            f"{self.estimated_auc:.3f} (the reference's scores: {self.reference_auc:.3f}) and an outcome rate of "
            f"about {self.estimated_rate:.1%} (reference {self.reference_rate:.1%})"
        )


def estimate_performance(reference: OutcomeProfile, current: OutcomeProfile) -> PerformanceEstimate | None:
    """The estimate for every scored prediction of `current` (matured or not), from the reference's matured 0/1
    labels; None when the reference has one outcome only or the current window has no scored prediction."""
    scored = current.by_bin("n")
    if scored.sum() == 0 or reference.matured == 0:
        return None
    estimated, estimated_error = expected_auc(reference, scored)
    own, own_error = expected_auc(reference, reference.by_bin("matured"))
    if math.isnan(estimated) or math.isnan(own):
        return None
    groups = score_groups(reference)
    rates = reference_means(reference, "label_sum", "matured", groups)
    return PerformanceEstimate(
        estimated_auc=estimated,
        reference_auc=own,
        drop=own - estimated,
        p_value=stats.normal_p_value(own - estimated, math.hypot(estimated_error, own_error)),
        estimated_rate=expected_mean(rates, scored, groups),
        reference_rate=reference.totals("label_sum") / reference.matured,
        predictions=int(scored.sum()),
    )
