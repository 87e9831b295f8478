"""kpi_by_band: the outcome rate of a predicted band moved against the band's meaning (the predicted-low
band's claim rate rises, or the high band's falls) while the other end of the scale held: the model is
misaligned with the KPI there; a person must look. When the other end moved too (all bands shifted, or
the score stopped separating), that is concept drift, for the concept_drift and performance checks.

Each band's rate is compared with what the reference's outcome-given-score predicts for the band's
current scores, so a band whose mix of scores shifted does not count as moved.
Reads matured counts and label sums per band x score bin of both windows."""

from __future__ import annotations

import math
from dataclasses import dataclass

from pydantic import Field

from airflow_retrain_gate.core import stats
from airflow_retrain_gate.core.chart_evidence import BinComparison, ChartKey
from airflow_retrain_gate.core.checks.context import CheckInputs, not_configured, outcome
from airflow_retrain_gate.core.checks.label_maturity import unjudged
from airflow_retrain_gate.core.checks.registry import CheckSettings, register
from airflow_retrain_gate.core.findings import Action, Finding, Status
from airflow_retrain_gate.core.profiling.kinds import ProfileKind
from airflow_retrain_gate.core.profiling.profiles import MISSING, OTHER, OutcomeProfile
from airflow_retrain_gate.core.score_mix import expected_mean, reference_means, score_groups

HOLD_SHARE = 0.5
"""The other end of the score scale 'held' when it moved at most this share of the culprit band's move."""


class KpiByBandSettings(CheckSettings):
    """How far a band's outcome rate must move (relative to min(rate, 1 - rate)) to count."""

    min_change: float = Field(
        default=0.25, gt=0, description="Relative change of a band's outcome rate that counts."
    )
    min_band_labels: int = Field(default=100, ge=1, description="Matured labels a band needs in each window.")


@dataclass(frozen=True)
class BandChange:
    """One band: its outcome rate in each window, the rate its scores predict, and the change beyond that."""

    band: str
    mean_score: float
    reference_rate: float
    current_rate: float
    current_expected: float
    change: float
    """Current rate minus the rate its scores predict (after the band's reference excess)."""
    relative_change: float
    standard_error: float
    p_value: float
    moved: bool

    def held_against(self, culprit: BandChange, adverse_sign: int) -> bool:
        """Whether this end of the score scale held while the culprit band moved.

        It held when it moved against its own meaning (`adverse_sign`) by at most HOLD_SHARE of the culprit's
        move, in rate points and relative to its rate (when the score stops separating, the high band falls
        by more points while the low band rises by more relative to its small rate), and moved either way by
        no more than the culprit plus noise (a uniform shift moves the high band most).
        """
        adverse = max(self.change * adverse_sign, 0.0)
        adverse_relative = max(self.relative_change * adverse_sign, 0.0)
        return (
            adverse <= HOLD_SHARE * abs(culprit.change)
            and adverse_relative <= HOLD_SHARE * abs(culprit.relative_change)
            and abs(self.change) <= abs(culprit.change) + 2 * self.standard_error
        )


def _band_change(
    inputs: CheckInputs,
    band: str,
    reference: OutcomeProfile,
    current: OutcomeProfile,
    settings: KpiByBandSettings,
) -> BandChange | None:
    groups = score_groups(reference)
    rates = reference_means(reference, "label_sum", "matured", groups)
    ref_n, cur_n = reference.band_by_bin("matured", band), current.band_by_bin("matured", band)
    if ref_n.sum() < settings.min_band_labels or cur_n.sum() < settings.min_band_labels:
        return None
    ref_rate = reference.band_by_bin("label_sum", band).sum() / ref_n.sum()
    cur_rate = current.band_by_bin("label_sum", band).sum() / cur_n.sum()
    excess_ref = ref_rate - expected_mean(rates, ref_n, groups)
    expected_now = expected_mean(rates, cur_n, groups) + excess_ref
    change = cur_rate - expected_now
    variance = expected_now * (1 - expected_now) / cur_n.sum() + ref_rate * (1 - ref_rate) / ref_n.sum()
    if reference.label_kind != "binary":
        variance = abs(expected_now) / cur_n.sum() + abs(ref_rate) / ref_n.sum()
    standard_error = math.sqrt(max(variance, 1e-18))
    p_value = stats.normal_p_value(change, standard_error)
    base = min(expected_now, 1 - expected_now) if reference.label_kind == "binary" else abs(expected_now)
    relative = change / max(base, 1e-9)
    mean_score = reference.band_by_bin("score_sum", band).sum() / ref_n.sum()
    moved = inputs.material(
        abs(relative), settings.min_change, p_value, stats.effective_size(ref_n.sum(), cur_n.sum())
    )
    return BandChange(
        band, mean_score, ref_rate, cur_rate, expected_now, change, relative, standard_error, p_value, moved
    )


@register(
    "kpi_by_band",
    settings=KpiByBandSettings,
    reads=(ProfileKind.OUTCOMES,),
    action=Action.ALERT,
    summary="A predicted band's outcome rate moved against its meaning while the rest held: alert.",
)
def check_kpi_by_band(inputs: CheckInputs, settings: KpiByBandSettings) -> list[Finding]:
    """One finding for the predicted bands."""
    reference, current = inputs.profiles.outcomes_reference, inputs.profiles.outcomes_current
    assert reference is not None and current is not None
    predictions = inputs.policy.tables.predictions
    if predictions is None or not predictions.band:
        return [
            not_configured(
                "kpi_by_band",
                predictions.subject if predictions is not None else "tables.predictions",
                "tables.predictions.band",
                "Map tables.predictions.band to check outcomes per predicted band.",
            )
        ]
    subject = f"{predictions.subject}.{predictions.band}"
    blocked = unjudged(inputs, "kpi_by_band", subject)
    if blocked:
        return [blocked]
    changes = [
        change
        for band in reference.bands
        if band not in (OTHER, MISSING)
        and (change := _band_change(inputs, band, reference, current, settings)) is not None
    ]
    if len(changes) < 2:
        return [
            outcome(
                "kpi_by_band",
                subject,
                Status.INSUFFICIENT_DATA,
                f"Fewer than 2 bands have {settings.min_band_labels} matured labels in both windows.",
            )
        ]
    changes.sort(key=lambda change: (change.mean_score, change.reference_rate))
    evidence = {
        "bands": [change.__dict__ for change in changes],
        ChartKey.HISTOGRAM: BinComparison(
            [change.band for change in changes],
            [change.reference_rate for change in changes],
            [change.current_rate for change in changes],
        ).to_dict(),
    }
    low, high = changes[0], changes[-1]
    low_adverse = low.moved and low.relative_change > 0
    high_adverse = high.moved and high.relative_change < 0
    # Both ends moving against their meaning is the score losing its separation: performance's call.
    low_misaligned = low_adverse and not high_adverse and high.held_against(low, adverse_sign=-1)
    high_misaligned = high_adverse and not low_adverse and low.held_against(high, adverse_sign=+1)
    if low_misaligned or high_misaligned:
        culprit, other = (low, "highest") if low_misaligned else (high, "lowest")
        return [
            outcome(
                "kpi_by_band",
                subject,
                Status.FAIL,
                f"Predictions and outcomes are misaligned: the predicted-{culprit.band} band's outcome rate went "
                f"{culprit.reference_rate:.2%} -> {culprit.current_rate:.2%} (its scores predict {culprit.current_expected:.2%}) "
                f"while the {other} band held. The model is blind to something in that band; a person should look "
                "before any retraining.",
                action=inputs.policy.action_for("kpi_by_band"),
                statistic="relative_change",
                value=abs(culprit.relative_change),
                threshold=settings.min_change,
                evidence=evidence,
            )
        ]
    moved = [change.band for change in changes if change.moved]
    if moved:
        return [
            outcome(
                "kpi_by_band",
                subject,
                Status.WARN,
                f"Outcome rates moved in bands {', '.join(moved)} at both ends of the score scale (see concept_drift); not a band-specific misalignment.",
                evidence=evidence,
            )
        ]
    return [
        outcome(
            "kpi_by_band",
            subject,
            Status.PASS,
            f"Outcome rates per predicted band are as their scores predict ({len(changes)} bands).",
            evidence=evidence,
        )
    ]
