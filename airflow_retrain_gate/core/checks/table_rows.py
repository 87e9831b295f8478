"""table_rows: every mapped table (or its filters) selects rows in both windows; an empty window is an error.

Reads the row counts the profiles already hold: predictions and outcomes (OutcomeProfile), overrides and
training signals (DailyCounts). The features table's rows are judged by `volume`, with the same wording.
"""

from __future__ import annotations

from typing import Any

from airflow_retrain_gate.core.checks.context import CheckInputs, outcome
from airflow_retrain_gate.core.checks.registry import CheckSettings, register
from airflow_retrain_gate.core.findings import Action, Finding, Status
from airflow_retrain_gate.core.timeframes import TimeWindow


def describe_filters(filters: dict[str, Any]) -> str:
    """Filters as the policy writes them: {model_name: 'fraud-scorer', region: ['eu', 'us']}."""
    return "{" + ", ".join(f"{column}: {value!r}" for column, value in filters.items()) + "}"


def empty_windows_message(
    section: str, table: str, filters: dict[str, Any], empty: list[TimeWindow], what: str = "rows"
) -> str:
    """One line naming the policy field (the filters if any), the table and the windows that selected nothing."""
    where = (
        "the reference or the current window"
        if len(empty) == 2
        else f"the {empty[0].name} window ({empty[0].start:%Y-%m-%d} to {empty[0].end:%Y-%m-%d})"
    )
    if filters:
        return (
            f"{section}.filters: {describe_filters(filters)} selects no {what} in table {table} in {where}; "
            "check the filter values, then the windows and the table's loads."
        )
    return (
        f"{section}: table {table} has no {what} in {where}; check its loads, its timestamp column and the "
        "windows."
    )


def _empty(counts: list[tuple[TimeWindow, int]]) -> list[TimeWindow]:
    return [window for window, rows in counts if rows == 0]


def _table_finding(
    section: str, mapping: Any, counts: list[tuple[TimeWindow, int]], what: str = "rows"
) -> Finding:
    empty = _empty(counts)
    if empty:
        message = empty_windows_message(section, mapping.table, mapping.filters, empty, what)
        return outcome("table_rows", section, Status.ERROR, message)
    rows = ", ".join(f"{rows} in the {window.name} window" for window, rows in counts)
    return outcome("table_rows", section, Status.PASS, f"Table {mapping.subject} has {what}: {rows}.")


@register(
    "table_rows",
    settings=CheckSettings,
    reads=(),
    action=Action.NONE,
    summary="Every mapped table, with its filters, selects rows in the reference and the current window.",
    guards_training=True,
)
def check_table_rows(inputs: CheckInputs, settings: CheckSettings) -> list[Finding]:
    """One finding per mapped table that was profiled (tables that failed to profile have their own error)."""
    profiles, tables = inputs.profiles, inputs.policy.tables
    findings = []
    reference, current = profiles.outcomes_reference, profiles.outcomes_current
    # Outcome profiles exist only when an outcomes table is mapped.
    if reference is not None and current is not None and tables.outcomes is not None:
        rows = [(profile.window, profile.predictions + profile.unscored) for profile in (reference, current)]
        if profiles.outcomes_have_predictions:
            findings.append(_table_finding("tables.predictions", tables.predictions, rows))
            if tables.outcomes.filters and not _empty(rows):
                joined = [(profile.window, profile.matured) for profile in (reference, current)]
                if len(_empty(joined)) == 2:
                    findings.append(
                        _table_finding(
                            "tables.outcomes", tables.outcomes, joined, "labels joined to a prediction"
                        )
                    )
        else:
            findings.append(_table_finding("tables.outcomes", tables.outcomes, rows))
    for section, reference_counts, current_counts in (
        ("overrides", profiles.overrides_reference, profiles.overrides_current),
        ("training_signals", profiles.signals_reference, profiles.signals_current),
    ):
        if reference_counts is not None and current_counts is not None:
            counts = [(daily.window, sum(daily.rows)) for daily in (reference_counts, current_counts)]
            findings.append(_table_finding(f"tables.{section}", getattr(tables, section), counts))
    return findings
