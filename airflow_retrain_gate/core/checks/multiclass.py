"""Judging a multiclass model one class at a time: each class against the rest is a 0/1 outcome over that
class's score, so the binary performance and concept_drift checks judge it; their findings name the class.
Also the model-wide numbers: macro AUC, accuracy and log loss, from the same aggregates."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

from airflow_retrain_gate.core import stats
from airflow_retrain_gate.core.checks.context import CheckInputs, outcome
from airflow_retrain_gate.core.checks.label_maturity import unjudged
from airflow_retrain_gate.core.findings import Finding, Status
from airflow_retrain_gate.core.profiling.profiles import MulticlassProfile

BinaryCheck = Callable[[CheckInputs], list[Finding]]


def is_multiclass(inputs: CheckInputs) -> bool:
    """Whether the run profiled a multiclass model (the policy maps outcomes.classes)."""
    return inputs.profiles.multiclass_reference is not None and inputs.profiles.multiclass_current is not None


def class_inputs(inputs: CheckInputs, class_index: int) -> CheckInputs:
    """The inputs as a binary check of class `class_index` against the rest sees them."""
    reference, current = inputs.profiles.multiclass_reference, inputs.profiles.multiclass_current
    assert reference is not None and current is not None
    profiles = replace(
        inputs.profiles,
        outcomes_reference=reference.one_vs_rest(class_index),
        outcomes_current=current.one_vs_rest(class_index),
        multiclass_reference=None,
        multiclass_current=None,
    )
    return replace(inputs, profiles=profiles, derived={})


def judge_per_class(inputs: CheckInputs, check: str, binary_check: BinaryCheck) -> list[Finding]:
    """`binary_check` run on each class against the rest, its findings naming the class; one finding saying
    why when the labels cannot be judged yet."""
    subject = inputs.policy.tables.predictions.subject if inputs.policy.tables.predictions else "predictions"
    blocked = unjudged(inputs, check, subject)
    if blocked:
        return [blocked]
    reference = inputs.profiles.multiclass_reference
    assert reference is not None
    findings = []
    for index, name in enumerate(reference.classes):
        for finding in binary_check(class_inputs(inputs, index)):
            findings.append(
                replace(
                    finding,
                    subject=f"{finding.subject}[class {name!r}]",
                    message=f"Class {name!r} (against the other classes): {finding.message}",
                    evidence={**finding.evidence, "class": name},
                )
            )
    return findings


def macro_auc(profile: MulticlassProfile) -> float:
    """The mean over classes of each class's AUC against the rest (NaN when a class has no positives)."""
    values = []
    for index in range(len(profile.classes)):
        one_vs_rest = profile.one_vs_rest(index)
        positives = one_vs_rest.by_bin("label_sum")
        values.append(stats.auc_from_bins(positives, one_vs_rest.by_bin("matured") - positives)[0])
    return float(sum(values) / len(values)) if values else math.nan


def accuracy(profile: MulticlassProfile) -> float:
    """The share of matured labels within the classes that the predicted class got right."""
    judged = profile.total("in_classes")
    return profile.total("correct") / judged if judged else math.nan


def log_loss(profile: MulticlassProfile) -> float:
    """The mean of -ln(score of the true class), scores clipped; NaN without a score per class."""
    judged = profile.total("in_classes")
    return profile.total("log_loss") / judged if judged and profile.has_log_loss else math.nan


def judge_performance_per_class(inputs: CheckInputs, binary_check: BinaryCheck) -> list[Finding]:
    """The performance findings of each class, then the model-wide numbers once a class could be judged."""
    findings = judge_per_class(inputs, "performance", binary_check)
    judged = any(finding.status in (Status.PASS, Status.WARN, Status.FAIL) for finding in findings)
    return [*findings, model_summary(inputs, findings)] if judged else findings


def model_summary(inputs: CheckInputs, class_findings: list[Finding]) -> Finding:
    """The model-wide numbers over all classes (macro AUC, accuracy, log loss), reference -> current; it notes
    and does not decide: the per-class findings do."""
    reference, current = inputs.profiles.multiclass_reference, inputs.profiles.multiclass_current
    assert reference is not None and current is not None
    subject = inputs.policy.tables.predictions.subject if inputs.policy.tables.predictions else "predictions"
    metrics = {
        "macro_auc": (macro_auc(reference), macro_auc(current)),
        "accuracy": (accuracy(reference), accuracy(current)),
        "log_loss": (log_loss(reference), log_loss(current)),
    }
    shown = ", ".join(
        f"{name.replace('_', ' ')} {before:.3g} -> {after:.3g}"
        for name, (before, after) in metrics.items()
        if math.isfinite(before) and math.isfinite(after)
    )
    worse = [f.evidence["class"] for f in class_findings if f.status is Status.FAIL and "class" in f.evidence]
    verdict = (
        f"classes that got worse: {', '.join(map(repr, worse))}" if worse else "no class got materially worse"
    )
    return outcome(
        "performance",
        subject,
        Status.WARN if worse else Status.PASS,
        f"Across the {len(reference.classes)} classes ({', '.join(reference.classes)}): {shown}; {verdict}.",
        statistic="macro_auc",
        value=metrics["macro_auc"][1] if math.isfinite(metrics["macro_auc"][1]) else None,
        evidence={
            "classes": list(reference.classes),
            **{f"reference_{name}": before for name, (before, _) in metrics.items() if math.isfinite(before)},
            **{f"current_{name}": after for name, (_, after) in metrics.items() if math.isfinite(after)},
        },
    )
