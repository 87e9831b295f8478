"""drift: how far each feature's distribution moved (PSI by default). Drift alone asks for nothing:
transient drift alerts (drift_persistence), explained drift alerts (known_events), and whether persistent
drift hurts is for the outcome checks (performance, concept_drift) to say."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from airflow_retrain_gate.core.chart_evidence import ChartKey, DailySeries
from airflow_retrain_gate.core.checks.context import CheckInputs, outcome
from airflow_retrain_gate.core.checks.registry import CheckSettings, register
from airflow_retrain_gate.core.drift_analysis import DEFAULT_THRESHOLDS, ColumnDrift, DriftSpec, analyse_drift
from airflow_retrain_gate.core.findings import Action, Finding, Status
from airflow_retrain_gate.core.profiling.kinds import ProfileKind


class DriftSettings(CheckSettings):
    """The drift statistic and its thresholds (defaults per statistic: PSI 0.1/0.25, JS 0.1/0.18, KS 0.1/0.2,
    Wasserstein 0.2/0.5 reference standard deviations)."""

    statistic: Literal["psi", "js", "ks", "wasserstein"] = "psi"
    warn: float | None = Field(default=None, gt=0)
    fail: float | None = Field(default=None, gt=0)
    bins: int = Field(default=10, ge=2, le=50, description="Equal-reference-mass bins for PSI and JS.")
    min_day_rows: int = Field(default=50, ge=5, description="Rows a day needs to be judged on its own.")

    @model_validator(mode="after")
    def _ordered(self) -> DriftSettings:
        if self.warn is not None and self.fail is not None and self.warn > self.fail:
            raise ValueError(f"warn ({self.warn}) must not exceed fail ({self.fail})")
        return self

    @property
    def thresholds(self) -> tuple[float, float]:
        """(warn, fail), defaulted per statistic."""
        warn, fail = DEFAULT_THRESHOLDS[self.statistic]
        return (self.warn or warn, self.fail or max(fail, self.warn or 0.0))


def drift_spec(inputs: CheckInputs) -> DriftSpec:
    """The drift measurement every drift-reading check shares, from the policy's `checks.drift` settings."""
    settings: DriftSettings = inputs.policy.check_settings("drift")
    warn, fail = settings.thresholds
    return DriftSpec(
        settings.statistic,
        warn,
        fail,
        settings.bins,
        settings.min_day_rows,
        inputs.alpha,
        inputs.large_sample,
    )


def column_drifts(inputs: CheckInputs) -> tuple[ColumnDrift, ...]:
    """Drift of every feature column between the reference and current profiles (analysed once per run)."""
    reference, current = inputs.profiles.features_reference, inputs.profiles.features_current
    assert reference is not None and current is not None
    return inputs.derive(
        "column_drifts", lambda: tuple(analyse_drift(reference, current, drift_spec(inputs)))
    )


def drift_evidence(drift: ColumnDrift) -> dict[str, object]:
    """Evidence (numbers and chart data) of one column's drift."""
    return {
        "p_value": drift.p_value,
        "material_value": drift.material_value,
        "reference_rows": drift.reference_rows,
        "current_rows": drift.current_rows,
        ChartKey.HISTOGRAM: drift.chart.to_dict(),
        ChartKey.DAILY: DailySeries(
            drift.days,
            {"value": drift.daily_values, "q_value": drift.daily_q_values},
            {"drifting": drift.daily_drifting},
        ).to_dict(),
        "drifting_days": drift.drifting_days,
        "persistence": drift.persistence,
    }


@register(
    "drift",
    settings=DriftSettings,
    reads=(ProfileKind.FEATURES,),
    action=Action.NONE,
    summary="How far each feature's distribution moved; noted, never decisive on its own.",
)
def check_drift(inputs: CheckInputs, settings: DriftSettings) -> list[Finding]:
    """One finding per feature column: pass, warn or fail by the statistic's thresholds."""
    spec = drift_spec(inputs)
    table = inputs.policy.tables.features.subject
    findings = []
    for drift in column_drifts(inputs):
        subject = f"{table}.{drift.column}"
        warn_at, fail_at = (
            (spec.warn, spec.fail) if drift.statistic == spec.statistic else DEFAULT_THRESHOLDS["psi"]
        )
        if drift.reference_rows < inputs.min_rows or drift.current_rows < inputs.min_rows:
            findings.append(
                outcome(
                    "drift",
                    subject,
                    Status.INSUFFICIENT_DATA,
                    f"Column {subject}: fewer than {inputs.min_rows} values in a window to measure drift.",
                )
            )
            continue
        name = drift.statistic.upper()
        days = f"{len(drift.drifting_days)} of {drift.judged_days} days drift"
        if drift.fail:
            status, message = (
                Status.FAIL,
                f"Column {subject} drifted: {name} {drift.value:.3f} (fail at {fail_at}); {days}.",
            )
        elif drift.warn:
            status, message = (
                Status.WARN,
                f"Column {subject} drifted moderately: {name} {drift.value:.3f} (warn at {warn_at}); {days}.",
            )
        elif drift.value >= warn_at and drift.material_value < warn_at:
            status, message = (
                Status.PASS,
                f"Column {subject} is stable: {name} {drift.value:.3f}, but only {drift.material_value:.3f} of it "
                "is a material change (values the reference rarely or never had, and sampling noise, make up "
                "the rest; category_coverage judges new values).",
            )
        else:
            status, message = Status.PASS, f"Column {subject} is stable: {name} {drift.value:.3f}."
        findings.append(
            outcome(
                "drift",
                subject,
                status,
                message,
                action=inputs.policy.action_for("drift"),
                statistic=drift.statistic,
                value=drift.value,
                threshold=fail_at if status is Status.FAIL else warn_at,
                evidence=drift_evidence(drift),
            )
        )
    return findings
