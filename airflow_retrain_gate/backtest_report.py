"""`retrain-gate backtest` output: the replayed timeline and its comparison with a fixed schedule, as a plain-text
table, JSON or markdown."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from airflow_retrain_gate.core.backtest import ReplayedDay
from airflow_retrain_gate.core.backtest_summary import ScheduleComparison, TrainWorthyEpisode
from airflow_retrain_gate.core.escaping import markdown_text, printable
from airflow_retrain_gate.core.timeframes import format_duration
from airflow_retrain_gate.core.wording import first_few, plural

TABLE_HEADLINE_CHARS = 110
"""The table shows this much of each headline (JSON and markdown show all of it)."""


@dataclass(frozen=True)
class BacktestReport:
    """A backtest's result: the policy, the replayed dates in order, and the comparison with the schedule."""

    policy_name: str
    timeline: Sequence[ReplayedDay]
    comparison: ScheduleComparison
    every: str
    """The step between replayed dates, as given (``1d``)."""

    @property
    def period(self) -> str:
        """First and last replayed date."""
        return f"{_day(self.timeline[0].as_of)} to {_day(self.timeline[-1].as_of)}"

    def to_dict(self) -> dict[str, object]:
        """JSON form: the timeline, then the comparison."""
        return {
            "policy_name": self.policy_name,
            "every": self.every,
            "timeline": [
                {
                    "as_of": day.as_of.isoformat(),
                    "branch": day.branch.value,
                    "deciding_checks": list(day.deciding_checks),
                    "headline": day.headline,
                    "train_worthy": day.train_worthy,
                    "train_checks": list(day.train_checks),
                    "errored_checks": list(day.errored_checks),
                }
                for day in self.timeline
            ],
            "comparison": self.comparison.to_dict(),
        }


def _day(when: datetime) -> str:
    return when.strftime("%Y-%m-%d") if when == when.replace(hour=0, minute=0, second=0) else when.isoformat()


def _answer(when: datetime | None, days: float | None) -> str:
    """A retrain and the days it came after an episode began, or "none"."""
    return "none" if when is None or days is None else f"{_day(when)} ({days:g} d)"


def _dates(dates: Sequence[datetime]) -> str:
    return ", ".join(_day(when) for when in dates) or "none"


def _episode_cells(episode: TrainWorthyEpisode) -> tuple[str, str, str, str]:
    return (
        _day(episode.first_day),
        _day(episode.last_day),
        _answer(episode.policy_train, episode.days_to_policy_train),
        _answer(episode.schedule_retrain, episode.days_to_schedule_retrain),
    )


def comparison_lines(report: BacktestReport) -> list[tuple[str, str]]:
    """The comparison's rows as (label, value) pairs, shared by the table and the markdown."""
    comparison = report.comparison
    schedule = format_duration(comparison.schedule)
    branches = comparison.branch_days
    return [
        ("retrains by the policy", f"{len(comparison.policy_trains)} ({_dates(comparison.policy_trains)})"),
        (f"retrains by the schedule (every {schedule})", str(len(comparison.schedule_retrains))),
        (
            "scheduled retrains on broken inputs (policy: fix_features)",
            f"{len(comparison.schedule_retrains_on_broken_inputs)} "
            f"({_dates(comparison.schedule_retrains_on_broken_inputs)})",
        ),
        (
            "alerts raised (runs of alert dates)",
            f"{comparison.alerts_raised} ({branches['alert']} alert dates)",
        ),
        ("dates by branch", ", ".join(f"{branch} {count}" for branch, count in branches.items())),
        (
            "dates some check could not diagnose (branch from on_error)",
            f"{len(comparison.undiagnosed)} ({first_few([_day(when) for when in comparison.undiagnosed]) or 'none'})",
        ),
    ]


EPISODE_HEADER = (
    "first train-worthy date",
    "last",
    "policy's train (days)",
    "schedule's next retrain (days)",
)


def render_table(report: BacktestReport) -> str:
    """Plain text: one line per replayed date, then the comparison and the train-worthy episodes."""
    lines = [
        f"backtest of {printable(report.policy_name)}: {report.period}, every {report.every} "
        f"({plural(len(report.timeline), 'date')})",
        "",
    ]
    width = max(len("date"), *(len(_day(day.as_of)) for day in report.timeline))
    lines.append(f"{'date':{width}s}  {'branch':12s}  {'deciding checks':30s}  headline")
    for day in report.timeline:
        checks = ",".join(day.deciding_checks) or "-"
        lines.append(
            f"{_day(day.as_of):{width}s}  {day.branch.value:12s}  {checks[:30]:30s}  "
            f"{printable(day.headline)[:TABLE_HEADLINE_CHARS]}"
        )
    lines += ["", f"compared with a retrain every {format_duration(report.comparison.schedule)} from "
              f"{_day(report.timeline[0].as_of)}:"]  # fmt: skip
    lines += [f"  {label}: {value}" for label, value in comparison_lines(report)]
    lines += ["", "train-worthy episodes (a check whose action is train fired):"]
    rows = [EPISODE_HEADER, *map(_episode_cells, report.comparison.episodes)]
    lines += ["  " + "  ".join(f"{cell:30s}" for cell in row).rstrip() for row in rows]
    if not report.comparison.episodes:
        lines.append("  none")
    return "\n".join(lines)


def render_markdown(report: BacktestReport) -> str:
    """Markdown: the comparison, the train-worthy episodes, then the timeline as a table."""
    comparison = report.comparison
    lines = [
        f"## Backtest of {markdown_text(report.policy_name)}",
        "",
        f"{report.period}, every {markdown_text(report.every)} ({plural(len(report.timeline), 'date')}), compared with a "
        f"retrain every {format_duration(comparison.schedule)}.",
        "",
        "| measure | value |",
        "|---|---|",
        *(f"| {label} | {value} |" for label, value in comparison_lines(report)),
        "",
        "### Train-worthy episodes",
        "",
        "| " + " | ".join(EPISODE_HEADER) + " |",
        "|---|---|---|---|",
        *("| " + " | ".join(_episode_cells(episode)) + " |" for episode in comparison.episodes),
        *(["| none | | | |"] if not comparison.episodes else []),
        "",
        "### Timeline",
        "",
        "| date | branch | deciding checks | headline |",
        "|---|---|---|---|",
    ]
    for day in report.timeline:
        checks = ", ".join(markdown_text(check) for check in day.deciding_checks)
        lines.append(f"| {_day(day.as_of)} | {day.branch.value} | {checks} | {markdown_text(day.headline)} |")
    return "\n".join(lines)


def render_json(report: BacktestReport) -> str:
    """The report as a JSON document."""
    return json.dumps(report.to_dict(), indent=2)


RENDERERS = {"table": render_table, "markdown": render_markdown, "json": render_json}
"""The `--format` choices of `retrain-gate backtest`."""
