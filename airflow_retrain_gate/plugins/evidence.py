"""Charts of a finding's evidence: reference vs current histograms, outcome by score bin, mean residual by feature
bin, daily series."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from markupsafe import Markup

from airflow_retrain_gate.core.chart_evidence import BinComparison, ChartKey, DailySeries, Value, numbers
from airflow_retrain_gate.core.findings import Finding
from airflow_retrain_gate.plugins.charts import (
    PALETTE,
    REFERENCE_COLOUR,
    bar_chart,
    level_bars,
    line_chart,
)

SCALE_GAP = 10.0
"""Daily series whose magnitudes differ more than this get separate charts (rows vs shares)."""


@dataclass(frozen=True)
class Chart:
    """One chart of a finding's evidence, with a title saying what it shows."""

    title: str
    svg: Markup


BIN_CHARTS = (
    (ChartKey.HISTOGRAM, ""),
    (ChartKey.OUTCOME_BY_SCORE_BIN, " outcome rate by score bin,"),
    (ChartKey.RESIDUAL_BY_FEATURE_BIN, " mean residual (label - score) by bin,"),
)
"""The evidence keys holding a `BinComparison`, and what their chart's title says it compares."""


def finding_charts(finding: Finding) -> list[Chart]:
    """Every chart the finding's evidence supports; malformed evidence yields no chart rather than an error."""
    evidence = finding.evidence
    charts = []
    for key, what in BIN_CHARTS:
        comparison = BinComparison.from_dict(evidence.get(key))
        if comparison is not None and comparison.labels:
            title = f"{finding.subject}:{what} reference vs current"
            # Outcomes and residuals of numeric labels are in the label's units, not shares.
            percent = evidence.get("label_kind") != "numeric"
            svg = bar_chart(comparison.labels, comparison.reference, comparison.current, percent=percent)
            charts.append(Chart(title, svg))
    daily = DailySeries.from_dict(evidence.get(ChartKey.DAILY))
    if daily is not None:
        charts += _daily_charts(finding.subject, daily)
    return charts + _performance_charts(finding)


def _performance_charts(finding: Finding) -> list[Chart]:
    """Expected vs realized AUC (or RMSE) against the level that fails, and the loss in each half of the window.

    The expected metric is what the current predictions would score under the reference window's outcome
    given score; the threshold is a drop of AUC (a relative growth of RMSE) from it.
    """
    evidence, threshold = finding.evidence, finding.threshold
    if "estimated_auc" in evidence:
        return _estimate_chart(finding)
    metric = next((name for name in ("auc", "rmse") if f"expected_{name}" in evidence), None)
    expected, current = numbers([evidence.get(f"expected_{metric}"), evidence.get(f"current_{metric}")])
    if metric is None or expected is None or current is None or threshold is None:
        return []
    name = metric.upper()
    failing = expected - threshold if metric == "auc" else expected * (1 + threshold)
    side = "below" if metric == "auc" else "above"
    charts = [
        Chart(
            f"{finding.subject}: {name} expected from the reference vs realized on matured labels",
            level_bars(
                [f"expected {name}", f"realized {name}"],
                [expected, current],
                level=failing,
                level_name=f"fails {side}",
                colours=(REFERENCE_COLOUR, PALETTE[0]),
            ),
        )
    ]
    halves = [value for value in numbers(evidence.get("half_worsening")) if value is not None]
    if halves:
        loss = "AUC drop" if metric == "auc" else "RMSE growth"
        charts.append(
            Chart(
                f"{finding.subject}: {loss} per half of the window (persistent when both reach half the threshold)",
                level_bars(
                    [f"half {index + 1}" for index in range(len(halves))],
                    halves,
                    level=threshold / 2,
                    level_name="half the threshold",
                    colours=(PALETTE[0],),
                ),
            )
        )
    return charts


def _estimate_chart(finding: Finding) -> list[Chart]:
    """Before labels mature: the AUC the reference's and the current scores promise at the reference's outcome
    given score, against the level that alerts (a drop of the threshold)."""
    reference, estimated = numbers(
        [finding.evidence.get("reference_estimated_auc"), finding.evidence.get("estimated_auc")]
    )
    if reference is None or estimated is None or finding.threshold is None:
        return []
    return [
        Chart(
            f"{finding.subject}: AUC the scores promise at the reference's outcome given score (labels pending)",
            level_bars(
                ["reference's scores", "current scores"],
                [reference, estimated],
                level=reference - finding.threshold,
                level_name="alerts below",
                colours=(REFERENCE_COLOUR, PALETTE[0]),
            ),
        )
    ]


def _daily_charts(subject: str, daily: DailySeries) -> list[Chart]:
    if not daily.days or not daily.series:
        return []
    flag_name, flagged = next(iter(daily.flags.items()), (None, None))
    groups = _by_scale(daily.series)
    charts = []
    for group in groups:
        percent = all(name.endswith(("share", "rate")) for name in group)
        level = daily.reference_level if percent or len(groups) == 1 else None
        title = f"{subject}: {', '.join(group)} per day"
        if flag_name:
            title += f" (shaded: {flag_name})"
        shaded = None if flagged is None else [flag is True for flag in flagged]
        svg = line_chart(daily.days, group, reference=level, flagged=shaded, percent=percent)
        charts.append(Chart(title, svg))
    return charts


def _by_scale(series: Mapping[str, Sequence[Value]]) -> list[dict[str, Sequence[Value]]]:
    """Group series of similar magnitude so a share is not drawn flat next to a row count."""

    def magnitude(values: Sequence[Value]) -> float:
        return max((abs(v) for v in values if v is not None), default=0.0)

    groups: list[dict[str, Sequence[Value]]] = []
    anchor = 0.0
    for name, values in sorted(series.items(), key=lambda item: magnitude(item[1])):
        size = magnitude(values)
        if groups and (anchor == 0.0 or size <= anchor * SCALE_GAP):
            groups[-1][name] = values
            anchor = anchor or size
        else:
            groups.append({name: values})
            anchor = size
    order = list(series)
    return sorted(
        ({name: group[name] for name in order if name in group} for group in groups),
        key=lambda group: order.index(next(iter(group))),
    )
