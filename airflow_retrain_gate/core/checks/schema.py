"""schema: every mapped feature column exists with a type that fits its role, and kept its type."""

from __future__ import annotations

from airflow_retrain_gate.core.checks.context import CheckInputs, outcome
from airflow_retrain_gate.core.checks.registry import CheckSettings, register
from airflow_retrain_gate.core.findings import Action, Finding, Status
from airflow_retrain_gate.core.warehouse import NUMERIC_KINDS, TEMPORAL_KINDS, MappingError

ROLE_KINDS = {"numeric": (NUMERIC_KINDS, "a number"), "timestamp": (TEMPORAL_KINDS, "a timestamp")}


class SchemaSettings(CheckSettings):
    """The schema check has no thresholds."""


@register(
    "schema",
    settings=SchemaSettings,
    reads=("schema",),
    action=Action.FIX_FEATURES,
    summary="Mapped feature columns exist, have types that fit their role, and kept their types.",
    guards_training=True,
)
def check_schema(inputs: CheckInputs, settings: SchemaSettings) -> list[Finding]:
    """Fail when a feature column changed type (upstream schema change); error when one is missing."""
    info = inputs.profiles.feature_schema
    assert info is not None
    mapping = inputs.policy.tables.features
    earlier = inputs.profiles.features_reference.column_types if inputs.profiles.features_reference else {}
    roles = [("timestamp", "timestamp", mapping.timestamp)]
    roles += [(f"numeric[{i}]", "numeric", name) for i, name in enumerate(mapping.numeric)]
    roles += [(f"categorical[{i}]", "categorical", name) for i, name in enumerate(mapping.categorical)]
    if mapping.segment:
        roles.append(("segment", "categorical", mapping.segment))
    findings: list[Finding] = []
    problems = 0
    for field, role, name in roles:
        path = f"tables.features.{field}"
        try:
            column = info.column(path, name)
        except MappingError as error:
            findings.append(outcome("schema", f"{info.qualified_name}.{name}", Status.ERROR, str(error)))
            problems += 1
            continue
        subject = f"{info.qualified_name}.{column.name}"
        allowed = ROLE_KINDS.get(role)
        if allowed and column.kind not in allowed[0]:
            findings.append(
                outcome(
                    "schema",
                    subject,
                    Status.FAIL,
                    f"Column {subject} is now {column.sql_type}, but the policy uses it as {allowed[1]} ({path}): "
                    "the upstream schema changed.",
                    action=Action.FIX_FEATURES,
                    evidence={"field": path, "sql_type": column.sql_type},
                )
            )
            problems += 1
        elif earlier.get(column.name) not in (None, column.sql_type):
            findings.append(
                outcome(
                    "schema",
                    subject,
                    Status.FAIL,
                    f"Column {subject} changed type from {earlier[column.name]} to {column.sql_type} since the "
                    "reference profile was taken: the upstream schema changed.",
                    action=Action.FIX_FEATURES,
                    evidence={"field": path, "before": earlier[column.name], "now": column.sql_type},
                )
            )
            problems += 1
    if not problems:
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
