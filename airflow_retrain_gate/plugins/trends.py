"""Trend charts of one model (policy): the branch of each decision, and the headline statistic over time.

The headline statistic is the statistic of the finding that decided the model's latest non-skip decision
(its check and subject, e.g. concept_drift's calibration shift on the predictions table), followed through
every decision listed, passing or not, against that finding's threshold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from airflow_retrain_gate.core import Finding
from airflow_retrain_gate.core.decision_log import LoggedDecision
from airflow_retrain_gate.core.findings import Status
from airflow_retrain_gate.plugins.charts import branch_chart, line_chart
from airflow_retrain_gate.plugins.evidence import Chart

TREND_DECISIONS = 60
"""How many of the model's newest decisions (within the page's filters) the trend charts show."""


@dataclass(frozen=True)
class Headline:
    """Which finding the statistic chart follows: a check on a subject, and the statistic it reports."""

    check: str
    subject: str
    statistic: str

    def of(self, logged: LoggedDecision) -> Finding | None:
        """This finding in one decision (None when the decision has no such finding)."""
        return next(
            (
                finding
                for finding in logged.decision.findings
                if (finding.check, finding.subject) == (self.check, self.subject)
            ),
            None,
        )


def model_trends(newest_first: Sequence[LoggedDecision]) -> list[Chart]:
    """The branch chart and, when some decision had a deciding finding, the headline statistic chart."""
    decisions = list(reversed(newest_first))
    if not decisions:
        return []
    days = [logged.entry.as_of.strftime("%Y-%m-%d") for logged in decisions]
    charts = [
        Chart(
            "branch per decision (after review)",
            branch_chart(days, [logged.entry.effective_branch for logged in decisions], _notes(decisions)),
        )
    ]
    headline = headline_of(newest_first)
    if headline is None:
        return charts
    findings = [headline.of(logged) for logged in decisions]
    latest = next(finding for finding in reversed(findings) if finding is not None)
    values = [finding.value if finding is not None else None for finding in findings]
    failing = [finding is not None and finding.status in (Status.FAIL, Status.WARN) for finding in findings]
    charts.append(
        Chart(
            f"{headline.check} · {headline.subject}: {headline.statistic} per decision (shaded: warn or fail)",
            line_chart(
                days,
                {headline.statistic: values},
                reference=latest.threshold,
                reference_name="threshold",
                flagged=failing,
            ),
        )
    )
    return charts


def headline_of(newest_first: Sequence[LoggedDecision]) -> Headline | None:
    """The first deciding finding with a statistic of the newest decision that has one."""
    for logged in newest_first:
        for finding in logged.decision.deciding_findings:
            if finding.statistic and finding.value is not None:
                return Headline(finding.check, finding.subject, finding.statistic)
    return None


def _notes(decisions: Sequence[LoggedDecision]) -> list[str]:
    """Tooltip detail per decision: the gate's own branch when a reviewer changed it, and the task."""
    notes = []
    for logged in decisions:
        entry = logged.entry
        overridden = f" (gate: {entry.branch})" if entry.effective_branch != entry.branch else ""
        notes.append(f"{overridden} · {entry.key.dag_id}.{entry.key.task_id}")
    return notes
