"""Chart evidence: what checks store for the UI's charts, and reading it back from logged decisions."""

from __future__ import annotations

import json

from airflow_retrain_gate.core.chart_evidence import BinComparison, ChartKey, DailySeries

DAYS = ["2024-05-29", "2024-05-30", "2024-05-31"]


def test_a_bin_comparison_survives_the_decision_log() -> None:
    comparison = BinComparison(
        ["0-0.1", "0.1-0.5", "0.5-1"], [0.02, 0.1, None], [0.03, 0.2, 0.6], [0.5, 0.3, 0.2]
    )

    stored = json.loads(json.dumps({ChartKey.RESIDUAL_BY_FEATURE_BIN: comparison.to_dict()}))

    assert list(stored) == ["residual_by_feature_bin"]
    assert BinComparison.from_dict(stored["residual_by_feature_bin"]) == comparison


def test_daily_series_keep_their_series_flags_and_reference_level() -> None:
    daily = DailySeries(
        DAYS,
        {"value": [0.02, 0.4, None], "q_value": [0.5, 0.001, None]},
        {"drifting": [False, True, None]},
        reference_level=0.05,
        reference_level_key="reference_rate",
    )

    stored = json.loads(json.dumps(daily.to_dict()))

    assert list(stored) == ["days", "value", "q_value", "drifting", "reference_rate"]
    assert DailySeries.from_dict(stored) == daily


def test_evidence_logged_by_older_versions_reads_as_the_declared_types() -> None:
    """Records written before the types were declared: dict literals of the same shape."""
    histogram = {"labels": ["a", "b", "(other)"], "reference": [0.5, 0.5, 0.0], "current": [0.2, 0.7, 0.1]}
    daily = {
        "days": DAYS,
        "null_share": [0.01, 0.02, "n/a"],
        "drifting": [False, False, True],
        "reference_share": 0.01,
    }

    assert BinComparison.from_dict(histogram) == BinComparison(
        ["a", "b", "(other)"], [0.5, 0.5, 0.0], [0.2, 0.7, 0.1]
    )
    assert DailySeries.from_dict(daily) == DailySeries(
        DAYS, {"null_share": [0.01, 0.02, None]}, {"drifting": [False, False, True]}, 0.01
    )


def test_evidence_that_cannot_be_drawn_reads_as_nothing_or_is_left_out() -> None:
    assert BinComparison.from_dict({"labels": ["a", "b"], "reference": [0.5], "current": [0.5, 0.5]}) is None
    assert BinComparison.from_dict("not a histogram") is None
    assert DailySeries.from_dict(["2024-05-29"]) is None
    assert DailySeries.from_dict({"days": DAYS, "rows": [1, 2]}) == DailySeries(DAYS, {})


def test_the_largest_change_skips_bins_with_a_gap() -> None:
    comparison = BinComparison(["low", "mid", "high"], [0.1, None, 0.5], [0.15, 0.9, 0.3])

    assert comparison.largest_change() == 2
