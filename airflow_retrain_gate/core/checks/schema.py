"""schema: every mapped feature column exists with a type that fits its role, and kept its type.

A column whose type does not fit its role is an upstream change when the cached reference profile recorded
another type, and a mistake in the policy when it did not (the column never had a fitting type).
"""

from __future__ import annotations

from airflow_retrain_gate.core.checks.context import CheckInputs, outcome
from airflow_retrain_gate.core.checks.registry import CheckSettings, register
from airflow_retrain_gate.core.feature_roles import mapped_columns
from airflow_retrain_gate.core.findings import Action, Finding, Status
from airflow_retrain_gate.core.profiling.kinds import ProfileKind
from airflow_retrain_gate.core.profiling.table_schema import MappingError

FIXES = {
    "numeric": "list it under categorical or fix the mapping",
    "timestamp": "map the column holding each row's event time",
}
"""What to do about a column whose type never fitted its role, per role."""


class SchemaSettings(CheckSettings):
    """The schema check has no thresholds."""


@register(
    "schema",
    settings=SchemaSettings,
    reads=(ProfileKind.SCHEMA,),
    action=Action.FIX_FEATURES,
    summary="Mapped feature columns exist, have types that fit their role, and kept their types.",
    guards_training=True,
)
def check_schema(inputs: CheckInputs, settings: SchemaSettings) -> list[Finding]:
    """Fail when a feature column changed type (upstream schema change); error when one is missing, or when
    its type never fitted the role the policy gives it (a mistake in the policy, not in the data)."""
    info = inputs.profiles.feature_schema
    assert info is not None
    profiles = inputs.profiles
    roles = mapped_columns(inputs.policy.tables.features)
    reference = profiles.features_reference
    recorded = reference.column_types if reference is not None else profiles.recorded_feature_types
    findings: list[Finding] = []
    for mapped in roles:
        try:
            column = info.column(mapped.field, mapped.name)
        except MappingError as error:
            findings.append(
                outcome("schema", f"{info.qualified_name}.{mapped.name}", Status.ERROR, str(error))
            )
            continue
        subject = f"{info.qualified_name}.{column.name}"
        before = recorded.get(column.name)
        changed = before not in (None, column.sql_type)
        needed = mapped.misfit(column)
        # A definite type (text, number, time) that never fitted the role is the policy's mistake.
        if needed and not changed and column.kind != "other":
            findings.append(
                outcome(
                    "schema",
                    subject,
                    Status.ERROR,
                    f"{mapped.field}: column {column.name!r} of table {info.qualified_name!r} is "
                    f"{column.sql_type}; the policy uses it as {needed}, and no reference profile recorded "
                    f"another type: {FIXES[mapped.role]}.",
                    evidence={"field": mapped.field, "sql_type": column.sql_type},
                )
            )
        elif needed or changed:  # an upstream change, or a column that lost its type (all NULL, say)
            was = (
                f"changed type from {before} to {column.sql_type}" if changed else f"is now {column.sql_type}"
            )
            since = " since the reference profile was taken" if changed else ""
            uses = f", but the policy uses it as {needed}" if needed else ""
            findings.append(
                outcome(
                    "schema",
                    subject,
                    Status.FAIL,
                    f"Column {subject} {was}{since}{uses} ({mapped.field}): the upstream schema changed.",
                    action=Action.FIX_FEATURES,
                    evidence={"field": mapped.field, "before": before, "now": column.sql_type},
                )
            )
    if not findings:
        findings.append(
            outcome(
                "schema",
                info.qualified_name,
                Status.PASS,
                f"All {len(roles)} mapped columns of {info.qualified_name} exist with types that fit their roles.",
                evidence={"columns": {name: column.sql_type for name, column in info.columns.items()}},
            )
        )
    return findings
