"""segment_mix: cohort shares moved while each cohort's own feature distributions are stable; the model
averages over a different population: re-cluster or redefine the modelling universe, do not just retrain.
Reads segment row counts and per-segment histograms of both windows."""

from __future__ import annotations

import numpy as np
from pydantic import Field

from airflow_retrain_gate.core import stats
from airflow_retrain_gate.core.chart_evidence import BinComparison, ChartKey
from airflow_retrain_gate.core.checks.context import CheckInputs, not_configured, outcome
from airflow_retrain_gate.core.checks.drift import drift_spec
from airflow_retrain_gate.core.checks.registry import CheckSettings, register
from airflow_retrain_gate.core.findings import Action, Finding, Status
from airflow_retrain_gate.core.profiling.kinds import ProfileKind
from airflow_retrain_gate.core.profiling.profiles import (
    CategoricalProfile,
    NumericProfile,
    TableProfile,
    display_label,
)


class SegmentMixSettings(CheckSettings):
    """How far segment shares must move (total variation distance) to count as a mix shift."""

    min_share_shift: float = Field(
        default=0.05, gt=0, le=1, description="Half the L1 distance between share vectors."
    )


def within_segment_drift(
    reference: TableProfile, current: TableProfile, inputs: CheckInputs
) -> list[dict[str, object]]:
    """Per (segment, column) with enough rows in both windows: PSI and whether it drifts at the warn level."""
    spec = drift_spec(inputs)
    results = []
    column_profiles: list[tuple[str, NumericProfile | CategoricalProfile]] = [
        *reference.numeric.items(),
        *reference.categorical.items(),
    ]
    for name, ref_profile in column_profiles:
        cur_profile: NumericProfile | CategoricalProfile | None = current.numeric.get(name)
        if cur_profile is None:
            cur_profile = current.categorical.get(name)
        if cur_profile is None:
            continue
        groups = stats.equal_mass_groups(ref_profile.counts, spec.bins) if name in reference.numeric else None
        for segment, ref_counts in ref_profile.segment_counts.items():
            cur_counts = cur_profile.segment_counts.get(segment)
            if cur_counts is None or sum(ref_counts) < inputs.min_rows or sum(cur_counts) < inputs.min_rows:
                continue
            ref_array = (
                stats.regroup(ref_counts, groups) if groups is not None else np.asarray(ref_counts, float)
            )
            cur_array = (
                stats.regroup(cur_counts, groups) if groups is not None else np.asarray(cur_counts, float)
            )
            value = stats.psi(ref_array, cur_array)
            _, p_value, _ = stats.chi_square(ref_array, cur_array)
            size = stats.effective_size(ref_array.sum(), cur_array.sum())
            results.append(
                {
                    "segment": segment,
                    "column": name,
                    "psi": value,
                    "drifts": inputs.material(value, spec.warn, p_value, size),
                }
            )
    return results


@register(
    "segment_mix",
    settings=SegmentMixSettings,
    reads=(ProfileKind.FEATURES,),
    action=Action.ALERT,
    summary="Segment shares moved while behaviour inside each segment is stable: re-cluster, not retrain.",
)
def check_segment_mix(inputs: CheckInputs, settings: SegmentMixSettings) -> list[Finding]:
    """One finding for the segment column."""
    reference, current = inputs.profiles.features_reference, inputs.profiles.features_current
    assert reference is not None and current is not None
    mapping = inputs.policy.tables.features
    if not mapping.segment:
        return [
            not_configured(
                "segment_mix",
                mapping.subject,
                "tables.features.segment",
                "No segment column is mapped; set tables.features.segment to check cohort shifts.",
            )
        ]
    subject = f"{mapping.subject}.{mapping.segment}"
    ref_rows, cur_rows = np.asarray(reference.segment_rows, float), np.asarray(current.segment_rows, float)
    if ref_rows.sum() < inputs.min_rows or cur_rows.sum() < inputs.min_rows:
        return [
            outcome(
                "segment_mix",
                subject,
                Status.INSUFFICIENT_DATA,
                f"Fewer than {inputs.min_rows} rows in a window to compare segment shares.",
            )
        ]
    ref_share, cur_share = ref_rows / ref_rows.sum(), cur_rows / cur_rows.sum()
    shift = float(np.abs(cur_share - ref_share).sum() / 2)
    _, p_value, _ = stats.chi_square(ref_rows, cur_rows)
    labels = [display_label(label) for label in reference.segments]
    evidence = {
        ChartKey.HISTOGRAM: BinComparison(
            labels, ref_share.round(6).tolist(), cur_share.round(6).tolist()
        ).to_dict(),
        "p_value": p_value,
    }
    if not inputs.material(
        shift, settings.min_share_shift, p_value, stats.effective_size(ref_rows.sum(), cur_rows.sum())
    ):
        return [
            outcome(
                "segment_mix",
                subject,
                Status.PASS,
                f"Segment shares of {subject} are stable (moved {shift:.1%}).",
                statistic="share_shift",
                value=shift,
                threshold=settings.min_share_shift,
                evidence=evidence,
            )
        ]
    moves = sorted(zip(labels, ref_share, cur_share, strict=True), key=lambda item: -abs(item[2] - item[1]))[
        :3
    ]
    described = ", ".join(f"{label} {before:.0%} -> {after:.0%}" for label, before, after in moves)
    within = within_segment_drift(reference, current, inputs)
    drifting = [item for item in within if item["drifts"]]
    evidence["within_segment"] = within
    if drifting:
        worst = max(drifting, key=lambda item: float(item["psi"]))  # type: ignore[arg-type]
        return [
            outcome(
                "segment_mix",
                subject,
                Status.WARN,
                f"Segment shares moved ({described}) and behaviour inside segments changed too "
                f"(e.g. {worst['column']} in {worst['segment']}: PSI {float(worst['psi']):.2f}); not a pure mix shift.",  # type: ignore[arg-type]
                statistic="share_shift",
                value=shift,
                threshold=settings.min_share_shift,
                evidence=evidence,
            )
        ]
    return [
        outcome(
            "segment_mix",
            subject,
            Status.FAIL,
            f"The population mix changed: {described} ({shift:.0%} of rows moved between segments), while each "
            f"segment's own features are stable ({len(within)} segment x column comparisons). Re-cluster segments "
            "or redefine the modelling universe rather than retrain on the new average.",
            action=inputs.policy.action_for("segment_mix"),
            statistic="share_shift",
            value=shift,
            threshold=settings.min_share_shift,
            evidence=evidence,
        )
    ]
