"""trust: people override the model more often than in the reference (trust decay): a person must look.
Reads per-day override counts of both windows."""

from __future__ import annotations

from pydantic import Field
from scipy import stats as scipy_stats

from airflow_retrain_gate.core import stats
from airflow_retrain_gate.core.chart_evidence import ChartKey, DailySeries
from airflow_retrain_gate.core.checks.context import CheckInputs, outcome
from airflow_retrain_gate.core.checks.registry import CheckSettings, register
from airflow_retrain_gate.core.findings import Action, Finding, Status
from airflow_retrain_gate.core.profiling.kinds import ProfileKind


class TrustSettings(CheckSettings):
    """How much the override rate may rise (absolute and as a ratio)."""

    min_increase: float = Field(default=0.01, gt=0, le=1, description="Absolute rise of the override rate.")
    min_ratio: float = Field(default=1.5, gt=1, description="Current / reference override rate.")


@register(
    "trust",
    settings=TrustSettings,
    reads=(ProfileKind.OVERRIDES,),
    action=Action.ALERT,
    summary="The rate of manual overrides rose against the reference (trust decay): alert.",
)
def check_trust(inputs: CheckInputs, settings: TrustSettings) -> list[Finding]:
    """One finding on the override rate."""
    reference, current = inputs.profiles.overrides_reference, inputs.profiles.overrides_current
    assert reference is not None and current is not None
    subject = inputs.policy.tables.overrides.subject  # type: ignore[union-attr]
    ref_n, cur_n = reference.total("flag_known"), current.total("flag_known")
    if ref_n < inputs.min_rows or cur_n < inputs.min_rows:
        return [
            outcome(
                "trust",
                subject,
                Status.INSUFFICIENT_DATA,
                f"Fewer than {inputs.min_rows} decisions with a known override flag in a window.",
            )
        ]
    ref_flagged, cur_flagged = reference.total("flagged"), current.total("flagged")
    ref_rate, cur_rate = ref_flagged / ref_n, cur_flagged / cur_n
    increase = cur_rate - ref_rate
    # Overrides are rare (3% of a few hundred decisions a week): the normal approximation understates the tail
    # of such small counts (a z-test at alpha 0.001 alarmed on 1% of healthy 100-row-a-day warehouses, one at
    # Fisher's p = 0.004). Fisher's exact test holds its level at any count.
    p_value = float(
        scipy_stats.fisher_exact(
            [[cur_flagged, cur_n - cur_flagged], [ref_flagged, ref_n - ref_flagged]]
        ).pvalue
    )
    ratio = cur_rate / ref_rate if ref_rate else float("inf") if cur_rate else 1.0
    evidence = {
        "reference_rate": ref_rate,
        "current_rate": cur_rate,
        "p_value": p_value,
        ChartKey.DAILY: DailySeries(
            current.days,
            {
                "override_rate": [
                    f / n if n else None
                    for f, n in zip(current.counters["flagged"], current.counters["flag_known"], strict=True)
                ]
            },
            reference_level=ref_rate,
            reference_level_key="reference_rate",
        ).to_dict(),
    }
    if (
        inputs.material(increase, settings.min_increase, p_value, stats.effective_size(ref_n, cur_n))
        and ratio >= settings.min_ratio
    ):
        return [
            outcome(
                "trust",
                subject,
                Status.FAIL,
                f"Trust decay: people override the model on {cur_rate:.1%} of decisions, up from {ref_rate:.1%} "
                f"({ratio:.1f}x). Find out what the overriders see before retraining.",
                action=inputs.policy.action_for("trust"),
                statistic="override_rate_ratio",
                value=ratio,
                threshold=settings.min_ratio,
                evidence=evidence,
            )
        ]
    return [
        outcome(
            "trust",
            subject,
            Status.PASS,
            f"Override rate {ref_rate:.1%} -> {cur_rate:.1%}.",
            statistic="override_rate_ratio",
            value=ratio,
            threshold=settings.min_ratio,
            evidence=evidence,
        )
    ]
