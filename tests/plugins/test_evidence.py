"""Charts of findings' evidence: drawn for what decided the demo stories, safe on odd or hostile data."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree

from airflow_retrain_gate.core import Decision, Finding
from airflow_retrain_gate.core.findings import Action, Status
from airflow_retrain_gate.plugins.evidence import finding_charts

DAYS = ["2024-05-29", "2024-05-30", "2024-05-31"]


def finding(evidence: dict) -> Finding:
    """A failing finding carrying `evidence`."""
    return Finding(
        "volume",
        "sales.orders",
        Status.FAIL,
        Action.FIX_FEATURES,
        "Rows dropped.",
        "ratio",
        0.4,
        0.5,
        evidence,
    )


def svg_root(markup: str) -> ElementTree.Element:
    """The chart parsed as XML: it must be well formed to render."""
    return ElementTree.fromstring(markup)


def test_every_deciding_finding_of_the_demo_stories_gets_a_chart(demo_decisions: dict[str, Decision]) -> None:
    expected = {
        "dead_signal": "per day",
        "segment_mix_shift": "reference vs current",
        "concept_drift": "score bin",
    }
    for story, words in expected.items():
        deciding = demo_decisions[story].deciding_findings

        charts = [chart for deciding_finding in deciding for chart in finding_charts(deciding_finding)]

        assert charts, f"{story}: no chart for {[f.check for f in deciding]}"
        assert any(words in chart.title for chart in charts)
        for chart in charts:
            svg_root(chart.svg)


def test_series_of_different_scales_get_separate_charts_and_alike_ones_share_one() -> None:
    evidence = {
        "daily": {
            "days": DAYS,
            "rows": [1500.0, 900.0, 0.0],
            "expected": [1500.0, 1490.0, 1510.0],
            "share": [0.1, 0.2, 0.9],
        }
    }

    charts = finding_charts(finding(evidence))

    assert [chart.title for chart in charts] == [
        "sales.orders: rows, expected per day",
        "sales.orders: share per day",
    ]


def test_flagged_days_are_shaded_and_the_reference_level_is_dashed() -> None:
    evidence = {
        "daily": {
            "days": DAYS,
            "value": [0.02, 0.4, 0.5],
            "drifting": [False, True, True],
            "reference_share": 0.05,
        }
    }

    (chart,) = finding_charts(finding(evidence))

    root = svg_root(chart.svg)
    shaded = [rect for rect in root.iter("{http://www.w3.org/2000/svg}rect") if rect.get("fill") == "#fde68a"]
    dashed = [
        line
        for line in root.iter("{http://www.w3.org/2000/svg}line")
        if line.get("stroke-dasharray") == "6 4"
    ]
    assert len(shaded) == 2 and len(dashed) == 1
    assert chart.title == "sales.orders: value per day (shaded: drifting)"


def test_a_day_not_judged_leaves_its_flag_unshaded_rather_than_drawing_the_flags_as_a_line() -> None:
    evidence = {"daily": {"days": DAYS, "value": [0.02, 0.4, 0.5], "drifting": [None, True, True]}}

    (chart,) = finding_charts(finding(evidence))

    shaded = [
        rect
        for rect in svg_root(chart.svg).iter("{http://www.w3.org/2000/svg}rect")
        if rect.get("fill") == "#fde68a"
    ]
    assert len(shaded) == 2
    assert chart.title == "sales.orders: value per day (shaded: drifting)"


def test_malformed_evidence_draws_nothing_instead_of_failing() -> None:
    broken = [
        {"histogram": {"labels": ["a", "b"], "reference": [0.5], "current": [0.5, 0.5]}},
        {"histogram": "not a histogram"},
        {"daily": {"days": DAYS, "rows": [1, 2]}},
        {"daily": ["2024-05-29"]},
        {"outcome_by_score_bin": {"labels": [], "reference": [], "current": []}},
    ]

    assert [finding_charts(finding(evidence)) for evidence in broken] == [[], [], [], [], []]


def test_gaps_and_text_in_values_break_the_line_rather_than_the_chart() -> None:
    evidence = {"daily": {"days": DAYS, "rows": [10.0, None, "n/a"], "expected": [10.0, 11.0, 12.0]}}

    (chart,) = finding_charts(finding(evidence))

    assert len(list(svg_root(chart.svg).iter("{http://www.w3.org/2000/svg}circle"))) == 4


def test_category_names_from_the_data_are_escaped() -> None:
    evidence = {
        "histogram": {
            "labels": ['<img src=x onerror="alert(1)">', "b&q"],
            "reference": [0.4, 0.6],
            "current": [0.7, 0.3],
        }
    }

    (chart,) = finding_charts(finding(evidence))

    assert "<img" not in chart.svg
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in chart.svg
    texts = "".join(svg_root(chart.svg).itertext())
    assert '<img src=x onerror="alert(1)">' in texts and "b&q" in texts


def test_the_calibration_chart_labels_its_bins_with_adjacent_score_ranges(
    demo_decisions: dict[str, Decision],
) -> None:
    (concept_drift,) = [f for f in demo_decisions["concept_drift"].findings if f.check == "concept_drift"]

    (chart,) = finding_charts(concept_drift)

    labels = concept_drift.evidence["outcome_by_score_bin"]["labels"]
    bounds = [tuple(float(edge) for edge in label.split("–")) for label in labels]
    assert len(bounds) == 10 and all(low < high for low, high in bounds)
    assert all(bounds[i][1] == bounds[i + 1][0] for i in range(len(bounds) - 1))
    texts = list(svg_root(chart.svg).itertext())
    assert labels[0] in texts and labels[-1] in texts


def test_the_residual_chart_compares_the_mean_residual_per_bin_of_the_feature_that_moved_most(
    demo_decisions: dict[str, Decision],
) -> None:
    (residuals,) = [f for f in demo_decisions["concept_drift"].findings if f.check == "residual_drift"]

    (chart,) = finding_charts(residuals)

    assert residuals.subject.endswith("." + residuals.evidence["feature"])
    assert chart.title == f"{residuals.subject}: mean residual (label - score) by bin, reference vs current"
    labels = residuals.evidence["residual_by_feature_bin"]["labels"]
    texts = list(svg_root(chart.svg).itertext())
    assert labels[0] in texts and labels[-1] in texts


def test_the_performance_finding_charts_expected_vs_realized_auc_against_the_failing_level(
    demo_decisions: dict[str, Decision],
) -> None:
    (performance,) = [f for f in demo_decisions["concept_drift"].findings if f.check == "performance"]
    expected, realized = performance.evidence["expected_auc"], performance.evidence["current_auc"]

    levels, halves = finding_charts(performance)

    titles = list(svg_root(levels.svg).iter("{http://www.w3.org/2000/svg}title"))
    assert [title.text for title in titles] == [
        f"expected AUC: {expected:.4g}",
        f"realized AUC: {realized:.4g}",
        f"fails below {expected - performance.threshold:.4g}",
    ]
    assert "AUC drop per half of the window" in halves.title
    bars = svg_root(halves.svg).iter("{http://www.w3.org/2000/svg}rect")
    assert len(list(bars)) == len(performance.evidence["half_worsening"]) == 2


def test_an_estimate_before_labels_charts_what_the_scores_promise_against_the_level_that_alerts() -> None:
    pending = Finding(
        "performance",
        "predictions",
        Status.INSUFFICIENT_DATA,
        Action.NONE,
        "performance not judged: labels are not mature yet. Estimated before labels: ...",
        "estimated_auc_drop",
        0.01,
        0.05,
        {
            "estimated_auc": 0.79,
            "reference_estimated_auc": 0.80,
            "expected_mature_at": "2024-06-04T00:00:00+00:00",
        },
    )

    (chart,) = finding_charts(pending)

    assert "labels pending" in chart.title
    titles = [title.text for title in svg_root(chart.svg).iter("{http://www.w3.org/2000/svg}title")]
    assert titles == ["reference's scores: 0.8", "current scores: 0.79", "alerts below 0.75"]
