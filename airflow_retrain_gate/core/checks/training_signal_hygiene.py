"""training_signal_hygiene: the next training set is not poisoned by inactive users, experiment arms or
incomplete feedback. Reads per-day counters of the training-signals table."""

from __future__ import annotations

from pydantic import Field

from airflow_retrain_gate.core import stats
from airflow_retrain_gate.core.chart_evidence import ChartKey, DailySeries
from airflow_retrain_gate.core.checks.context import CheckInputs, outcome
from airflow_retrain_gate.core.checks.registry import CheckSettings, register
from airflow_retrain_gate.core.findings import Action, Finding, Status
from airflow_retrain_gate.core.profiling.kinds import ProfileKind

ASPECTS = {
    "inactive": ("active_known", "impressions of inactive users", "inactive users' rows"),
    "experiment": ("arm_known", "rows from UI-experiment arms", "experiment-arm rows"),
    "incomplete": (
        "feedback_known",
        "rows with incomplete feedback (dark launch)",
        "incomplete-feedback rows",
    ),
}


class TrainingSignalHygieneSettings(CheckSettings):
    """How much each biased share may grow in the training window, and an optional absolute cap."""

    max_increase: float = Field(default=0.05, gt=0, le=1, description="Growth of a biased share that fails.")
    max_share: float | None = Field(default=None, gt=0, le=1, description="Absolute cap on any biased share.")


@register(
    "training_signal_hygiene",
    settings=TrainingSignalHygieneSettings,
    reads=(ProfileKind.TRAINING_SIGNALS,),
    action=Action.FIX_FEATURES,
    summary="Shares of inactive-user, experiment-arm and incomplete-feedback rows do not grow.",
)
def check_training_signal_hygiene(
    inputs: CheckInputs, settings: TrainingSignalHygieneSettings
) -> list[Finding]:
    """One finding per mapped aspect (active, experiment_arm, feedback_complete)."""
    reference, current = inputs.profiles.signals_reference, inputs.profiles.signals_current
    assert reference is not None and current is not None
    table = inputs.policy.tables.training_signals.subject  # type: ignore[union-attr]
    findings = []
    for counter, (known, what, short) in ASPECTS.items():
        if counter not in current.counters:
            continue
        subject = f"{table}.{counter}"
        ref_n, cur_n = reference.total(known), current.total(known)
        if ref_n < inputs.min_rows or cur_n < inputs.min_rows:
            findings.append(
                outcome(
                    "training_signal_hygiene",
                    subject,
                    Status.INSUFFICIENT_DATA,
                    f"{table}: fewer than {inputs.min_rows} rows with {short} known in a window.",
                )
            )
            continue
        ref_bad, cur_bad = reference.total(counter), current.total(counter)
        increase, p_value = stats.two_proportions(ref_bad, ref_n, cur_bad, cur_n)
        ref_share, cur_share = ref_bad / ref_n, cur_bad / cur_n
        evidence = {
            "reference_share": ref_share,
            "current_share": cur_share,
            "p_value": p_value,
            ChartKey.DAILY: DailySeries(
                current.days,
                {
                    "share": [
                        bad / n if n else None
                        for bad, n in zip(current.counters[counter], current.counters[known], strict=True)
                    ]
                },
                reference_level=ref_share,
            ).to_dict(),
        }
        grew = inputs.material(increase, settings.max_increase, p_value, stats.effective_size(ref_n, cur_n))
        capped = settings.max_share is not None and cur_share > settings.max_share
        if grew or capped:
            findings.append(
                outcome(
                    "training_signal_hygiene",
                    subject,
                    Status.FAIL,
                    f"The training window of {table} is biased: {what} are {cur_share:.1%} of rows "
                    f"(reference {ref_share:.1%}). Filter them out of the training set before retraining.",
                    action=Action.FIX_FEATURES,
                    statistic="share_increase",
                    value=increase,
                    threshold=settings.max_increase,
                    evidence=evidence,
                )
            )
        else:
            findings.append(
                outcome(
                    "training_signal_hygiene",
                    subject,
                    Status.PASS,
                    f"{table}: {short} {ref_share:.1%} -> {cur_share:.1%}.",
                    statistic="share_increase",
                    value=increase,
                    threshold=settings.max_increase,
                    evidence=evidence,
                )
            )
    return findings
