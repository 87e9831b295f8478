"""label_domain: matured labels keep the domain they had in the reference window. A 0/1 label stays 0/1,
a two-valued code (-1/1) keeps its two values, whole numbers stay whole, and a numeric label keeps its unit.
A label outside that domain is broken input, never evidence. Reads the stray-label counts and the label
sums of both windows."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field

from airflow_retrain_gate.core.chart_evidence import ChartKey, DailySeries
from airflow_retrain_gate.core.checks.context import CheckInputs, outcome
from airflow_retrain_gate.core.checks.metric_range import label_column
from airflow_retrain_gate.core.checks.registry import CheckSettings, register
from airflow_retrain_gate.core.checks.scale_shift import ScaleShiftSettings, scale_factor
from airflow_retrain_gate.core.findings import Action, Finding, Status
from airflow_retrain_gate.core.profiling.kinds import ProfileKind
from airflow_retrain_gate.core.profiling.profiles import MulticlassProfile, OutcomeProfile
from airflow_retrain_gate.core.timeframes import TimeWindow


class LabelDomainSettings(CheckSettings):
    """How many labels may stray from the reference's domain, and what counts as a new unit."""

    max_stray_share: float = Field(
        default=0.0,
        ge=0,
        lt=1,
        description="Share of the current window's matured labels that may lie outside the reference's domain.",
    )
    min_scale_factor: float = Field(
        default=10.0,
        gt=1,
        description="Spread ratio (either way), with the mean following, that puts numeric labels on a new unit.",
    )


@dataclass(frozen=True)
class DomainBreak:
    """How the current labels left the reference's domain: the statistic, its value and a one-line message."""

    statistic: str
    value: float
    threshold: float
    message: str


def window_name(window: TimeWindow) -> str:
    """A window as messages name it: ``current window (2024-05-25 to 2024-06-01)``."""
    return f"{window.name} window ({window.start:%Y-%m-%d} to {window.end:%Y-%m-%d})"


def describe_domain(profile: OutcomeProfile) -> str:
    """The reference's label domain in words."""
    if profile.label_classes:
        domain = "values " + "/".join(f"{value:g}" for value in profile.label_classes)
    else:
        domain = "whole numbers" if profile.whole_labels else "numbers"
    if profile.domain_until is None:
        return domain
    return f"{domain} before {profile.domain_until}; its labels since then are the current window's"


def domain_break(
    reference: OutcomeProfile, current: OutcomeProfile, settings: LabelDomainSettings, column: str
) -> DomainBreak | None:
    """Why the current window's labels are outside the reference's domain, or None when they are not."""
    strays = current.totals("label_stray")
    share = strays / current.matured if current.matured else 0.0
    if strays and share > settings.max_stray_share:
        examples = ", ".join(f"{value:g} ({count})" for value, count in current.stray_labels)
        return DomainBreak(
            "stray_label_share",
            share,
            settings.max_stray_share,
            f"{int(strays)} of {current.matured} matured labels ({share:.1%}) in {column} for the "
            f"{window_name(current.window)} lie outside the reference's domain ({describe_domain(reference)}), "
            f"e.g. {examples}: the label pipeline changed its coding; fix it, no outcome check can judge these labels.",
        )
    if reference.label_classes:
        return None
    reference_moments, current_moments = reference.label_moments(), current.label_moments()
    factor = scale_factor(
        reference_moments, current_moments, ScaleShiftSettings(min_factor=settings.min_scale_factor)
    )
    if factor is None:
        return None
    return DomainBreak(
        "label_scale_factor",
        factor,
        settings.min_scale_factor,
        f"The labels in {column} arrive on a new scale in the {window_name(current.window)}: mean "
        f"{reference_moments.mean:.4g} -> {current_moments.mean:.4g}, spread x{factor:.3g} (threshold "
        f"x{settings.min_scale_factor:g} either way): a unit change upstream; fix the label pipeline before retraining.",
    )


def class_break(
    current: MulticlassProfile | None, settings: LabelDomainSettings, column: str
) -> DomainBreak | None:
    """Why the current labels of a multiclass model lie outside its classes, or None (also for other models)."""
    strays = current.total("stray") if current else 0.0
    matured = current.total("matured") if current else 0.0
    share = strays / matured if matured else 0.0
    if current is None or not strays or share <= settings.max_stray_share:
        return None
    examples = ", ".join(f"{value!r} ({count})" for value, count in current.stray_labels)
    return DomainBreak(
        "stray_label_share",
        share,
        settings.max_stray_share,
        f"{int(strays)} of {int(matured)} matured labels ({share:.1%}) in {column} for the "
        f"{window_name(current.window)} are none of the classes ({', '.join(current.classes)}), e.g. {examples}: "
        "the label pipeline changed its coding; fix it, no outcome check can judge these labels.",
    )


def domain_problem(inputs: CheckInputs) -> str | None:
    """Why outcome checks must not judge the labels (label_domain fails), or None; None when the check is off."""
    settings: LabelDomainSettings = inputs.policy.check_settings("label_domain")
    reference, current = inputs.profiles.outcomes_reference, inputs.profiles.outcomes_current
    if not settings.enabled or reference is None or current is None or not current.matured:
        return None
    column = label_column(inputs)
    broken = class_break(inputs.profiles.multiclass_current, settings, column) or domain_break(
        reference, current, settings, column
    )
    return (
        None
        if broken is None
        else f"the labels of {label_column(inputs)} left the reference's domain (see label_domain)"
    )


@register(
    "label_domain",
    settings=LabelDomainSettings,
    reads=(ProfileKind.OUTCOMES,),
    action=Action.FIX_FEATURES,
    summary="Matured labels keep the reference's domain: 0/1 or a two-valued code, whole numbers, a unit.",
    guards_training=True,
)
def check_label_domain(inputs: CheckInputs, settings: LabelDomainSettings) -> list[Finding]:
    """One finding for the label column: fail when the current labels left the reference's domain."""
    reference, current = inputs.profiles.outcomes_reference, inputs.profiles.outcomes_current
    assert reference is not None and current is not None
    column = label_column(inputs)
    if not reference.matured or not current.matured:
        empty = window_name(reference.window if not reference.matured else current.window)
        return [
            outcome(
                "label_domain",
                column,
                Status.INSUFFICIENT_DATA,
                f"No matured labels in {column} for the {empty}: their domain cannot be compared.",
            )
        ]
    classes = inputs.profiles.multiclass_current
    domain = f"classes {', '.join(classes.classes)}" if classes else describe_domain(reference)
    evidence = {
        "reference_domain": domain,
        "label_kind": "multiclass" if classes else reference.label_kind,
        "stray_labels": [list(pair) for pair in (classes.stray_labels if classes else current.stray_labels)],
        ChartKey.DAILY: DailySeries(
            current.days,
            {"stray": list(classes.daily["stray"]) if classes else current.by_day("label_stray").tolist()},
        ).to_dict(),
    }
    broken = class_break(inputs.profiles.multiclass_current, settings, column) or domain_break(
        reference, current, settings, column
    )
    if broken is None:
        return [
            outcome(
                "label_domain",
                column,
                Status.PASS,
                f"The labels in {column} keep the reference's domain ({domain}).",
                statistic="stray_label_share",
                value=current.totals("label_stray") / current.matured,
                threshold=settings.max_stray_share,
                evidence=evidence,
            )
        ]
    return [
        outcome(
            "label_domain",
            column,
            Status.FAIL,
            broken.message,
            action=Action.FIX_FEATURES,
            statistic=broken.statistic,
            value=broken.value,
            threshold=broken.threshold,
            evidence=evidence,
        )
    ]
