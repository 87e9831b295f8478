"""proxy_alignment: the proxy the model is judged on (clicks) moved while what it stands for (engagement,
the true outcome) did not follow: a UI artefact, not a better model; a person must look.
The proxy must diverge both against its raw reference rate and against what the reference predicts for
the current mix of scores, so a population change alone is not a divergence.
Reads proxy, engagement and label sums per score bin of both windows."""

from __future__ import annotations

import math
from dataclasses import dataclass

from pydantic import Field

from airflow_retrain_gate.core import stats
from airflow_retrain_gate.core.chart_evidence import ChartKey, DailySeries
from airflow_retrain_gate.core.checks.context import CheckInputs, not_configured, outcome
from airflow_retrain_gate.core.checks.registry import CheckSettings, register
from airflow_retrain_gate.core.findings import Action, Finding, Status
from airflow_retrain_gate.core.profiling.kinds import ProfileKind
from airflow_retrain_gate.core.profiling.profiles import OutcomeProfile
from airflow_retrain_gate.core.score_mix import adjusted_change


class ProxyAlignmentSettings(CheckSettings):
    """How much the proxy must move, and how much of that move the truth must follow."""

    min_change: float = Field(default=0.1, gt=0, description="Relative change of the proxy rate that counts.")
    min_follow: float = Field(
        default=0.5, ge=0, le=1, description="Share of the proxy's relative move the truth must show."
    )


@dataclass(frozen=True)
class MeasureChange:
    """A measure's current mean against its reference mean and against what the reference predicts for
    the current score mix."""

    column: str
    reference: float
    current: float
    expected: float
    count: float

    def relative_change(self, adjusted: bool) -> float:
        """current / baseline - 1, the baseline being the score-mix expectation or the raw reference mean."""
        baseline = self.expected if adjusted else self.reference
        return self.current / baseline - 1 if baseline else math.nan


def measure_change(
    reference: OutcomeProfile, current: OutcomeProfile, column: str, total: str, count: str
) -> MeasureChange | None:
    """The change of one measure (proxy, engagement or label), or None when a window lacks it."""
    if reference.totals(count) <= 0 or current.totals(count) <= 0:
        return None
    actual, expected, observed = adjusted_change(reference, current, total, count)
    return MeasureChange(
        column, reference.totals(total) / reference.totals(count), actual, expected, observed
    )


def divergence(
    inputs: CheckInputs,
    proxy: MeasureChange,
    truths: list[MeasureChange],
    reference_count: float,
    adjusted: bool,
    settings: ProxyAlignmentSettings,
) -> tuple[bool, float, float]:
    """(proxy moved materially and no truth followed, proxy change, best share of it a truth followed)."""
    baseline = proxy.expected if adjusted else proxy.reference
    change = proxy.relative_change(adjusted)
    variance = baseline * (1 - baseline) * (1 / proxy.count + 1 / max(reference_count, 1))
    p_value = stats.normal_p_value(proxy.current - baseline, math.sqrt(max(variance, 1e-18)))
    moved = inputs.material(
        abs(change), settings.min_change, p_value, stats.effective_size(reference_count, proxy.count)
    )
    follow = max(truth.relative_change(adjusted) / change for truth in truths) if change else math.inf
    return moved and follow < settings.min_follow, change, follow


@register(
    "proxy_alignment",
    settings=ProxyAlignmentSettings,
    reads=(ProfileKind.OUTCOMES,),
    action=Action.ALERT,
    summary="The proxy (clicks) moved while engagement or the true outcome did not follow: alert.",
)
def check_proxy_alignment(inputs: CheckInputs, settings: ProxyAlignmentSettings) -> list[Finding]:
    """One finding comparing the proxy's move with the truth's."""
    reference, current = inputs.profiles.outcomes_reference, inputs.profiles.outcomes_current
    assert reference is not None and current is not None
    outcomes = inputs.policy.tables.outcomes
    assert outcomes is not None
    if not outcomes.proxy:
        return [
            not_configured(
                "proxy_alignment",
                outcomes.subject,
                "tables.outcomes.proxy",
                "Map tables.outcomes.proxy (and engagement) to check proxy alignment.",
            )
        ]
    subject = f"{outcomes.subject}.{outcomes.proxy}"
    proxy = measure_change(reference, current, outcomes.proxy, "proxy_sum", "proxy_n")
    truths = [
        change
        for change in (
            measure_change(reference, current, outcomes.engagement, "engagement_sum", "engagement_n")
            if outcomes.engagement
            else None,
            measure_change(reference, current, outcomes.label, "label_sum", "matured"),
        )
        if change is not None and change.count >= inputs.min_rows and change.expected
    ]
    if proxy is None or proxy.count < inputs.min_rows or not proxy.expected or not truths:
        return [
            outcome(
                "proxy_alignment",
                subject,
                Status.INSUFFICIENT_DATA,
                f"Fewer than {inputs.min_rows} proxy values, or no engagement or outcome values, in a window.",
            )
        ]
    reference_count = reference.totals("proxy_n")
    raw = divergence(inputs, proxy, truths, reference_count, False, settings)
    adjusted = divergence(inputs, proxy, truths, reference_count, True, settings)
    evidence = {
        "proxy": proxy.__dict__ | {"relative_change": raw[1], "relative_to_score_mix": adjusted[1]},
        "truths": [truth.__dict__ | {"relative_change": truth.relative_change(False)} for truth in truths],
        ChartKey.DAILY: DailySeries(
            current.days,
            {
                "proxy": _daily(current, "proxy_sum", "proxy_n"),
                "truth": _daily(
                    current,
                    *(
                        ("engagement_sum", "engagement_n")
                        if outcomes.engagement
                        else ("label_sum", "matured")
                    ),
                ),
            },
        ).to_dict(),
    }
    change, follow = raw[1], raw[2]
    if not (raw[0] and adjusted[0]):
        return [
            outcome(
                "proxy_alignment",
                subject,
                Status.PASS,
                f"The proxy {outcomes.proxy} moved {change:+.1%} ({adjusted[1]:+.1%} against its score mix) and what it "
                "stands for kept pace, or the move is within noise.",
                statistic="proxy_change",
                value=change,
                threshold=settings.min_change,
                evidence=evidence,
            )
        ]
    described = ", ".join(f"{truth.column} {truth.relative_change(False):+.1%}" for truth in truths)
    return [
        outcome(
            "proxy_alignment",
            subject,
            Status.FAIL,
            f"Proxy and truth diverge: {outcomes.proxy} moved {change:+.1%} ({proxy.reference:.3g} -> {proxy.current:.3g}) "
            f"while {described}. The proxy changed for another reason (a UI change, accidental clicks); retraining "
            "on it would optimise the artefact.",
            action=inputs.policy.action_for("proxy_alignment"),
            statistic="truth_follow",
            value=follow,
            threshold=settings.min_follow,
            evidence=evidence,
        )
    ]


def _daily(profile: OutcomeProfile, total: str, count: str) -> list[float | None]:
    return [s / n if n else None for s, n in zip(profile.by_day(total), profile.by_day(count), strict=True)]
