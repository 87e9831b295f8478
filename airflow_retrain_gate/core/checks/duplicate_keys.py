"""duplicate_keys: rows stay unique per key: no entity scored twice, no window of features ingested twice.

Reads the rows and distinct keys of the features and predictions tables in both windows. Duplicates inflate
every join and count downstream (a model looks worse, a segment bigger), so they are broken input.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from airflow_retrain_gate.core import stats
from airflow_retrain_gate.core.checks.context import CheckInputs, not_configured, outcome
from airflow_retrain_gate.core.checks.registry import CheckSettings, register
from airflow_retrain_gate.core.findings import Action, Finding, Status
from airflow_retrain_gate.core.profiling.kinds import ProfileKind
from airflow_retrain_gate.core.profiling.profiles import KeyCounts

if TYPE_CHECKING:
    from airflow_retrain_gate.core.policy import KeyedTable


class DuplicateKeysSettings(CheckSettings):
    """How far the share of duplicate rows may rise above the reference's before the table counts as broken."""

    max_share: float = Field(
        default=0.01,
        gt=0,
        lt=1,
        description="Rise of the share of rows that repeat a key (over the reference's share) that fails.",
    )


def _window(counts: KeyCounts) -> str:
    days = counts.window.days()
    return f"the {counts.window.name} window ({days[0].isoformat()} to {days[-1].isoformat()})"


def duplicates_finding(
    inputs: CheckInputs,
    section: str,
    table: str,
    reference: KeyCounts,
    current: KeyCounts,
    settings: DuplicateKeysSettings,
) -> Finding:
    """Whether the share of rows repeating a key rose past `max_share` over the reference's share (0 if unknown)."""
    subject, key = table, ", ".join(current.key)
    if current.rows < inputs.min_rows:
        return outcome(
            "duplicate_keys",
            subject,
            Status.INSUFFICIENT_DATA,
            f"Table {subject}: fewer than {inputs.min_rows} keyed rows in {_window(current)}; duplicates not judged.",
        )
    if reference.rows >= inputs.min_rows:
        ref_duplicates, ref_rows = reference.duplicates, reference.rows
    else:  # a key identifies one row: without a usable reference, compare with no duplicates at all
        ref_duplicates, ref_rows = 0, current.rows
    increase, p_value = stats.two_proportions(ref_duplicates, ref_rows, current.duplicates, current.rows)
    size = stats.effective_size(ref_rows, current.rows)
    evidence = {
        "key": list(current.key),
        "reference": {"rows": reference.rows, "keys": reference.keys, "share": reference.share},
        "current": {
            "rows": current.rows,
            "keys": current.keys,
            "share": current.share,
            "conflicting_keys": current.conflicting_keys,
        },
        "p_value": p_value,
    }
    numbers = {
        "statistic": "duplicate_share_increase",
        "value": increase,
        "threshold": settings.max_share,
        "evidence": evidence,
    }
    if not inputs.material(increase, settings.max_share, p_value, size):
        return outcome(
            "duplicate_keys",
            subject,
            Status.PASS,
            f"Table {subject}: {current.share:.2%} of rows repeat a key ({key}) in {_window(current)} "
            f"(reference {reference.share:.2%}).",
            **numbers,  # type: ignore[arg-type]
        )
    conflicting = (
        f" {current.conflicting_keys} keys carry different scores in their copies."
        if current.conflicting_keys
        else ""
    )
    return outcome(
        "duplicate_keys",
        subject,
        Status.FAIL,
        f"Table {subject} holds duplicate rows: {current.duplicates} of {current.rows} rows ({current.share:.1%}) in "
        f"{_window(current)} repeat a key ({key}), against {reference.share:.1%} in the reference.{conflicting} "
        f"Deduplicate the load upstream (or declare the real key in {section}.key) before training on it.",
        action=Action.FIX_FEATURES,
        **numbers,  # type: ignore[arg-type]
    )


# Not a training guard: a features table without an entity or key (both optional in the policy) says
# "not judged" in the reasons rather than keeping every such policy from training.
@register(
    "duplicate_keys",
    settings=DuplicateKeysSettings,
    reads=(ProfileKind.KEYS,),
    action=Action.FIX_FEATURES,
    summary="Features and predictions hold one row per key: no entity scored twice, no window ingested twice.",
)
def check_duplicate_keys(inputs: CheckInputs, settings: DuplicateKeysSettings) -> list[Finding]:
    """One finding per keyed table (features, and predictions when mapped)."""
    tables = inputs.policy.tables
    mappings: dict[str, KeyedTable | None] = {"features": tables.features, "predictions": tables.predictions}
    findings = []
    for role, mapping in mappings.items():
        if mapping is None:
            continue
        section = f"tables.{role}"
        if mapping.row_key() is None:
            findings.append(
                not_configured(
                    "duplicate_keys",
                    mapping.subject,
                    f"{section}.entity or {section}.key",
                    f"Table {mapping.subject} has no row key, so duplicate rows cannot be counted: "
                    f"map {section}.entity or {section}.key.",
                )
            )
            continue
        reference, current = inputs.profiles.keys_reference[role], inputs.profiles.keys_current[role]
        findings.append(duplicates_finding(inputs, section, mapping.subject, reference, current, settings))
    return findings
