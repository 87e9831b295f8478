"""The figures of a decision-quality run: false-alarm rates with confidence intervals, detection by magnitude.

python -m benchmarks.decisions.report benchmarks/decisions/results.jsonl --plot docs/decision-quality.png
"""

from __future__ import annotations

import argparse
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from scipy import stats as scipy_stats

from benchmarks.decisions.harness import HARMLESS
from benchmarks.decisions.runs import RunResult, read_results

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Cell:
    """The runs of one story at one size (and, for the power curve, one magnitude)."""

    story: str
    rows_per_day: int
    magnitude: float | None
    runs: list[RunResult]

    @property
    def misses(self) -> int:
        """Runs that did not take the story's branch."""
        return sum(not run.correct for run in self.runs)

    @property
    def rate(self) -> float:
        """Share of runs that took another branch than the story's."""
        return self.misses / len(self.runs)

    @property
    def interval(self) -> tuple[float, float]:
        """Clopper-Pearson interval of that share."""
        interval = scipy_stats.binomtest(self.misses, len(self.runs)).proportion_ci(CONFIDENCE, "exact")
        return float(interval.low), float(interval.high)

    def branches(self) -> str:
        """Branch counts, most frequent first."""
        return ", ".join(
            f"{branch} {count}" for branch, count in Counter(r.branch for r in self.runs).most_common()
        )

    def culprits(self) -> str:
        """The checks that decided the runs on another branch, with counts."""
        counts = Counter(check for run in self.runs if not run.correct for check in run.deciding_checks[:1])
        return ", ".join(f"{check} ({count})" for check, count in counts.most_common()) or "-"


def cells(results: list[RunResult], *, by_magnitude: bool) -> list[Cell]:
    """Runs grouped by story and size (and magnitude), in the order the stories are declared."""
    groups: dict[tuple[str, int, float | None], list[RunResult]] = {}
    for run in results:
        groups.setdefault((run.story, run.rows_per_day, run.magnitude if by_magnitude else None), []).append(
            run
        )
    return [Cell(story, size, magnitude, runs) for (story, size, magnitude), runs in sorted(groups.items())]


def false_alarm_table(results: list[RunResult]) -> str:
    """Markdown: per harmless story and size, how often the gate took another branch than the story's."""
    lines = [
        f"| story (its branch) | rows a day | seeds | branches | other branch | {CONFIDENCE:.0%} interval | decided by |",
        "|---|---|---|---|---|---|---|",
    ]
    harmless = [run for run in results if run.story in HARMLESS]
    for story in HARMLESS:
        story_cells = [cell for cell in cells(harmless, by_magnitude=False) if cell.story == story]
        pooled = [run for cell in story_cells for run in cell.runs]
        if len(story_cells) > 1:
            story_cells.append(Cell(story, 0, None, pooled))
        for cell in story_cells:
            low, high = cell.interval
            size = "all" if cell.rows_per_day == 0 else f"{cell.rows_per_day:,}"
            lines.append(
                f"| {story} ({cell.runs[0].expected_branch}) | {size} | {len(cell.runs)} | {cell.branches()} "
                f"| {cell.rate:.1%} | {low:.1%} to {high:.1%} | {cell.culprits()} |"
            )
    return "\n".join(lines)


def power_table(results: list[RunResult]) -> str:
    """Markdown: per story that calls for a branch, the share of runs that took it, by magnitude."""
    branching = [run for run in results if run.story not in HARMLESS]
    story_cells = cells(branching, by_magnitude=True)
    magnitudes = sorted({cell.magnitude for cell in story_cells if cell.magnitude is not None})
    header = " | ".join(f"x{magnitude:g}" for magnitude in magnitudes)
    lines = [
        f"| story (its branch) | rows a day | {header} | other branches taken |",
        "|---|---|" + "---|" * len(magnitudes) + "---|",
    ]
    for story, size in dict.fromkeys((cell.story, cell.rows_per_day) for cell in story_cells):
        row = {
            cell.magnitude: cell for cell in story_cells if (cell.story, cell.rows_per_day) == (story, size)
        }
        rates = " | ".join(
            f"{len(row[m].runs) - row[m].misses}/{len(row[m].runs)}" if m in row else "-" for m in magnitudes
        )
        wrong = Counter(
            f"{run.branch} by {run.deciding_checks[0] if run.deciding_checks else '-'}"
            for cell in row.values()
            for run in cell.runs
            if not run.correct
        )
        others = ", ".join(f"{what} ({count})" for what, count in wrong.most_common()) or "-"
        expected = next(iter(row.values())).runs[0].expected_branch
        lines.append(f"| {story} ({expected}) | {size:,} | {rates} | {others} |")
    return "\n".join(lines)


def plot(results: list[RunResult], image: Path) -> None:
    """Two panels: the other-branch rate of harmless stories by size (with intervals), detection by magnitude."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (alarms_axis, power_axis) = plt.subplots(1, 2, figsize=(16, 5.5))
    harmless_cells = cells([run for run in results if run.story in HARMLESS], by_magnitude=False)
    for offset, story in enumerate(HARMLESS):
        story_cells = [cell for cell in harmless_cells if cell.story == story]
        if not story_cells:
            continue
        sizes = [cell.rows_per_day * (1 + 0.06 * (offset - 1)) for cell in story_cells]
        rates = [100 * cell.rate for cell in story_cells]
        errors = [
            [100 * (cell.rate - cell.interval[0]) for cell in story_cells],
            [100 * (cell.interval[1] - cell.rate) for cell in story_cells],
        ]
        alarms_axis.errorbar(sizes, rates, yerr=errors, fmt="o", capsize=4, label=story)
    alarms_axis.axhline(1.0, color="grey", linestyle=":", linewidth=0.8)
    alarms_axis.text(
        0.01, 1.0, "1% goal", transform=alarms_axis.get_yaxis_transform(), color="grey", va="bottom"
    )
    alarms_axis.set(
        xscale="log",
        xlabel="rows a day",
        ylabel="runs on another branch than the story's (%)",
        title=f"Harmless stories: false alarms ({CONFIDENCE:.0%} Clopper-Pearson)",
    )
    alarms_axis.legend(fontsize=8)
    for cell_group in _by_story(
        cells([run for run in results if run.story not in HARMLESS], by_magnitude=True)
    ):
        xs = [cell.magnitude for cell in cell_group]
        ys = [100 * (1 - cell.rate) for cell in cell_group]
        first = cell_group[0]
        style = "-o" if first.rows_per_day >= 1000 else "--s"
        label = f"{first.story} ({first.runs[0].expected_branch}), {first.rows_per_day:,}/day"
        power_axis.plot(xs, ys, style, label=label)
    power_axis.set(
        xlabel="story magnitude (1 = typical)",
        ylabel="runs on the story's branch (%)",
        ylim=(-5, 105),
        title="Stories that call for a branch: detection by magnitude",
    )
    power_axis.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    figure.tight_layout()
    figure.savefig(image, dpi=110, bbox_inches="tight")


def _by_story(story_cells: list[Cell]) -> list[list[Cell]]:
    grouped: dict[tuple[str, int], list[Cell]] = {}
    for cell in story_cells:
        grouped.setdefault((cell.story, cell.rows_per_day), []).append(cell)
    return list(grouped.values())


def main(argv: list[str] | None = None) -> int:
    """Print both tables as markdown; draw the plot when --plot names a PNG."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("--plot", type=Path, default=None)
    args = parser.parse_args(argv)
    results = read_results(args.results)
    seconds = sum(run.seconds for run in results)
    print(f"{len(results)} runs, {seconds / 60:.0f} minutes of gate time.\n")
    print(false_alarm_table(results) + "\n")
    print(power_table(results))
    if args.plot:
        plot(results, args.plot)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
