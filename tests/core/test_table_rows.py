"""Empty windows on hand-built profiles: table_rows names the table or filter; volume names one shared timestamp."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from airflow_retrain_gate.core import Status, parse_policy
from airflow_retrain_gate.core.checks.context import CheckInputs
from airflow_retrain_gate.core.checks.registry import CheckSettings
from airflow_retrain_gate.core.checks.table_rows import check_table_rows
from airflow_retrain_gate.core.checks.volume import VolumeSettings, check_volume
from airflow_retrain_gate.core.gate import resolve_windows
from airflow_retrain_gate.core.profiling.profile_set import ProfileSet
from airflow_retrain_gate.core.profiling.profiles import (
    OUTCOME_METRICS,
    DailyCounts,
    OutcomeProfile,
    TableProfile,
)
from airflow_retrain_gate.core.timeframes import TimeWindow
from airflow_retrain_gate.demo.catalog import DEMO_AS_OF
from airflow_retrain_gate.demo.stories import story_policy

POLICY = parse_policy(story_policy("concept_drift"))
REFERENCE, CURRENT = resolve_windows(POLICY, DEMO_AS_OF)


def outcomes(window: TimeWindow, predictions: int, matured: int, unscored: int = 0) -> OutcomeProfile:
    """An outcome profile holding only its counts."""
    days = tuple(day.isoformat() for day in window.days())
    bins = {name: tuple((0.0,) for _ in days) for name in OUTCOME_METRICS}
    return OutcomeProfile(window, predictions, matured, "binary", (0.0, 1.0), days, bins, unscored=unscored)


def daily(window: TimeWindow, rows: int) -> DailyCounts:
    """Per-day counts with all `rows` on the first day."""
    days = tuple(day.isoformat() for day in window.days())
    return DailyCounts("t", window, days, (rows, *[0] * (len(days) - 1)), {})


def run_table_rows(policy: Any = POLICY, **profiles: Any) -> dict[str, Any]:
    """table_rows on the given profiles, by subject."""
    defaults = {
        "outcomes_reference": outcomes(REFERENCE, 5000, 4000),
        "outcomes_current": outcomes(CURRENT, 1400, 900),
        "outcomes_have_predictions": True,
        "overrides_reference": daily(REFERENCE, 2000),
        "overrides_current": daily(CURRENT, 500),
    }
    inputs = CheckInputs(ProfileSet(**{**defaults, **profiles}), policy, DEMO_AS_OF, REFERENCE, CURRENT)
    return {finding.subject: finding for finding in check_table_rows(inputs, CheckSettings())}


def test_tables_with_rows_in_both_windows_pass() -> None:
    findings = run_table_rows()
    assert {subject: f.status for subject, f in findings.items()} == {
        "tables.predictions": Status.PASS,
        "tables.overrides": Status.PASS,
    }


def test_a_filter_that_selects_no_predictions_is_an_error_naming_it() -> None:
    finding = run_table_rows(
        outcomes_reference=outcomes(REFERENCE, 0, 0), outcomes_current=outcomes(CURRENT, 0, 0)
    )["tables.predictions"]
    assert finding.status is Status.ERROR
    assert finding.message.startswith(
        "tables.predictions.filters: {model_name: 'fraud-scorer'} selects no rows in table predictions in the "
        "reference or the current window;"
    )


def test_unscored_predictions_are_rows() -> None:
    finding = run_table_rows(outcomes_current=outcomes(CURRENT, 0, 0, unscored=1400))["tables.predictions"]
    assert finding.status is Status.PASS


@pytest.mark.parametrize(
    ("reference_rows", "current_rows", "window"), [(0, 500, "reference"), (2000, 0, "current")]
)
def test_an_empty_window_of_a_table_without_filters_names_the_window(
    reference_rows: int, current_rows: int, window: str
) -> None:
    finding = run_table_rows(
        overrides_reference=daily(REFERENCE, reference_rows), overrides_current=daily(CURRENT, current_rows)
    )["tables.overrides"]
    assert finding.status is Status.ERROR
    bounds = REFERENCE if window == "reference" else CURRENT
    assert finding.message.startswith(
        f"tables.overrides: table overrides has no rows in the {window} window "
        f"({bounds.start:%Y-%m-%d} to {bounds.end:%Y-%m-%d});"
    )


def test_outcome_filters_that_join_no_label_are_an_error_only_when_no_window_has_labels() -> None:
    raw = story_policy("concept_drift")
    raw["tables"]["outcomes"]["filters"] = {"source": "cmr"}
    policy = parse_policy(raw)
    none_joined = run_table_rows(
        policy, outcomes_reference=outcomes(REFERENCE, 5000, 0), outcomes_current=outcomes(CURRENT, 1400, 0)
    )
    assert none_joined["tables.outcomes"].status is Status.ERROR
    assert "tables.outcomes.filters: {source: 'cmr'} selects no labels joined to a prediction" in (
        none_joined["tables.outcomes"].message
    )
    immature = run_table_rows(policy, outcomes_current=outcomes(CURRENT, 1400, 0))
    assert "tables.outcomes" not in immature


def features(window: TimeWindow, rows: int, first: Any, last: Any) -> TableProfile:
    """A features profile with only rows and timestamps."""
    days = tuple(day.isoformat() for day in window.days())
    daily_rows = (rows, *[0] * (len(days) - 1))
    return TableProfile("features", window, rows, last, days, daily_rows, {}, {}, min_timestamp=first)


def run_volume(reference: TableProfile, current: TableProfile) -> Any:
    profiles = ProfileSet(features_reference=reference, features_current=current)
    inputs = CheckInputs(profiles, POLICY, DEMO_AS_OF, REFERENCE, CURRENT)
    return check_volume(inputs, VolumeSettings())[0]


def test_rows_that_all_share_one_timestamp_fail_volume() -> None:
    stamp = CURRENT.end - timedelta(hours=12)
    reference = features(REFERENCE, 5000, REFERENCE.start, REFERENCE.end - timedelta(minutes=1))
    finding = run_volume(reference, features(CURRENT, 1400, stamp, stamp))
    assert (finding.status, finding.action.value) == (Status.FAIL, "fix_features")
    assert finding.message.startswith(
        f"All 1400 rows of table features in the current window share one timestamp, {stamp:%Y-%m-%d %H:%M:%S} UTC"
    )
    one_row = run_volume(reference, features(CURRENT, 1, stamp, stamp))
    assert "share one timestamp" not in one_row.message


def test_an_empty_reference_is_an_error() -> None:
    current = features(CURRENT, 1400, CURRENT.start, CURRENT.end - timedelta(minutes=1))
    finding = run_volume(features(REFERENCE, 0, None, None), current)
    assert finding.status is Status.ERROR
    assert finding.message.startswith("tables.features: table features has no rows in the reference window")
