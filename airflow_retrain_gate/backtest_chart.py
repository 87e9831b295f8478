"""`retrain-gate backtest --plot`: a PNG timeline of the replayed branches against the schedule's retrains."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from airflow_retrain_gate.backtest_report import BacktestReport
from airflow_retrain_gate.core.findings import Branch
from airflow_retrain_gate.core.wording import plural

BRANCH_COLOURS = {
    Branch.FIX_FEATURES: "#d62728",
    Branch.ALERT: "#ff7f0e",
    Branch.TRAIN: "#2ca02c",
    Branch.SKIP: "#b0b0b0",
}
ROWS = ("schedule", *(branch.value for branch in reversed(Branch)))
"""The chart's rows, bottom to top: the schedule's retrains, then skip, train, alert, fix_features."""


class ChartUnavailable(Exception):
    """matplotlib is not installed, so no chart can be drawn."""


def require_matplotlib() -> None:
    """Raise ChartUnavailable, saying how to install it, when matplotlib cannot be imported."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ChartUnavailable(
            "matplotlib is not installed; install it with: pip install 'airflow-retrain-gate[plot]'"
        ) from None


def write_chart(report: BacktestReport, path: Path) -> None:
    """Draw the timeline into a PNG at `path`: one coloured mark per replayed date on its branch's row (hollow where
    a check could not diagnose), the schedule's retrains below (a cross where they fell on a fix_features date),
    train-worthy episodes shaded."""
    require_matplotlib()
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot
    from matplotlib.dates import date2num

    comparison = report.comparison
    row_of = {name: index for index, name in enumerate(ROWS)}
    figure, axes = pyplot.subplots(figsize=(12, 3.4), dpi=110)
    dates = [day.as_of for day in report.timeline]
    # Shading reaches half a step either side of an episode's dates, so that a one-date episode shows too.
    half_step = (dates[1] - dates[0]) / 2 if len(dates) > 1 else timedelta(hours=12)
    for episode in comparison.episodes:
        start, end = episode.first_day - half_step, episode.last_day + half_step
        axes.axvspan(date2num(start), date2num(end), color="#2ca02c", alpha=0.15, linewidth=0)
    for branch, colour in BRANCH_COLOURS.items():
        size = 60 if branch is Branch.TRAIN else 18
        for diagnosed in (True, False):  # a date some check could not diagnose is drawn hollow
            taken = [
                day.as_of for day in report.timeline if day.branch is branch and day.diagnosed is diagnosed
            ]
            axes.scatter(
                date2num(taken),
                [row_of[branch.value]] * len(taken),
                color=colour if diagnosed else "none",
                edgecolors=colour,
                s=size,
                marker="s",
                zorder=3,
            )
    broken = set(comparison.schedule_retrains_on_broken_inputs)
    healthy = [when for when in comparison.schedule_retrains if when not in broken]
    axes.scatter(
        date2num(healthy), [row_of["schedule"]] * len(healthy), color="#1f77b4", marker="|", s=160, zorder=3
    )
    axes.scatter(
        date2num(sorted(broken)),
        [row_of["schedule"]] * len(broken),
        color="#d62728",
        marker="x",
        s=70,
        zorder=4,
    )
    labels = {
        "schedule": f"schedule ({len(comparison.schedule_retrains)})",
        **{name: f"{name} ({comparison.branch_days[name]})" for name in ROWS[1:]},
    }
    axes.set_yticks(range(len(ROWS)), [labels[name] for name in ROWS])
    axes.set_ylim(-0.7, len(ROWS) - 0.3)
    axes.xaxis_date()
    axes.grid(axis="x", alpha=0.3)
    axes.set_title(chart_title(report), fontsize=10)
    figure.autofmt_xdate()
    figure.tight_layout()
    figure.savefig(path)
    pyplot.close(figure)


def chart_title(report: BacktestReport) -> str:
    """The chart's title: trains by the policy and by the schedule, and a key to the marks the chart holds."""
    comparison = report.comparison
    broken = len(comparison.schedule_retrains_on_broken_inputs)
    notes = [f"{broken} of them on broken inputs (x)"]
    if comparison.episodes:
        notes.append(f"shaded: {plural(len(comparison.episodes), 'train-worthy episode')}")
    if comparison.undiagnosed:
        notes.append(f"hollow: {len(comparison.undiagnosed)} not diagnosed")
    return (
        f"{report.policy_name}: {plural(len(comparison.policy_trains), 'policy train')} vs "
        f"{plural(len(comparison.schedule_retrains), 'scheduled retrain')}, " + "; ".join(notes)
    )
