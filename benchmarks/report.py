"""Renders the results as a markdown table and target verdicts, into the README between markers, and the plot."""

from __future__ import annotations

import subprocess
from pathlib import Path

from benchmarks import evidently_env, scenario
from benchmarks.results import Measurement, load, measurements

BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"
TARGET_ROWS = 10_000_000
RSS_TARGET_MB = 400
STEADY_TARGETS = (
    ("duckdb", 10_000_000, "steady_ratio", 0.15),
    ("duckdb", 10_000_000, "steady_floor_ratio", 1.5),
    ("postgresql", 100_000_000, "steady_ratio", 0.1),
    ("duckdb", 10_000_000, "backtest_ratio", 3.0),
    ("postgresql", 100_000_000, "backtest_ratio", 3.0),
)
"""(engine, rows, ratio, limit) of the per-day parts' targets: a steady daily run (one new day, yesterday's
parts cached) against the cold first run and the floor, and a backtest of 90 daily decisions."""
COLUMNS = (
    "engine", "rows", "rows in windows", "floor s", "gate s", "gate / floor", "gate peak RSS MB",
    "gate with DuckDB memory_limit: s / RSS MB", "rows fetched", "queries", "steady run s",
    "steady / first, / floor", "backtest 90 days s", "backtest / first",
    "Evidently s", "Evidently peak RSS MB", "Evidently / gate",
)  # fmt: skip


def _number(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def row(measurement: Measurement) -> list[str]:
    """One table row; a skipped size says why, a failed Evidently run says where it stopped."""
    label = scenario.size_label(measurement.rows)
    if measurement.skipped:
        return [measurement.engine, label, f"skipped: {measurement.skipped}", *[""] * (len(COLUMNS) - 3)]
    evidently_s = _number(measurement.evidently_s, 1)
    speedup = _number(measurement.speedup, 0) + "x" if measurement.speedup else "-"
    if measurement.evidently_failure:
        evidently_s = (
            f"{evidently_s} ({measurement.evidently_failure})"
            if measurement.evidently_s
            else measurement.evidently_failure
        )
        speedup = "- (Evidently did not finish)"
    return [
        measurement.engine,
        label,
        _count(measurement.window_rows),
        _number(measurement.floor_s, 3),
        _number(measurement.gate_s, 3),
        _number(measurement.ratio, 1) + "x" if measurement.ratio else "-",
        _number(measurement.gate_peak_rss_mb, 0),
        f"{measurement.limited_s:.3f} / {measurement.limited_peak_rss_mb:.0f}"
        if measurement.limited_s
        else "-",
        _count(measurement.rows_fetched),
        _count(measurement.queries),
        _number(measurement.steady_s, 3),
        f"{_ratio(measurement.steady_ratio)}, {_ratio(measurement.steady_floor_ratio)}",
        _number(measurement.backtest_s, 1),
        _ratio(measurement.backtest_ratio),
        evidently_s,
        _number(measurement.evidently_peak_rss_mb, 0),
        speedup,
    ]


def summary_line(measurement: Measurement) -> str:
    """A one-line summary printed after each engine and size."""
    return ", ".join(f"{name} {value}" for name, value in zip(COLUMNS[3:], row(measurement)[3:], strict=True))


def verdicts(found: list[Measurement]) -> list[tuple[str, str, str]]:
    """(target, measured, met / missed / not measured) for each target of the issue."""
    lines = []
    by_key = {(item.engine, item.rows): item for item in found if not item.skipped}
    for engine, limit in (("duckdb", 1.5), ("postgresql", 2.0)):
        item = by_key.get((engine, TARGET_ROWS))
        ratio = item.ratio if item else None
        met = None if ratio is None else ratio <= limit
        lines.append((f"{engine} 10M: gate <= {limit}x floor", _ratio(ratio), _verdict(met)))
    lines += [
        _rss_verdict(found, "postgresql", "gate_peak_rss_mb", "PostgreSQL"),
        _rss_verdict(found, "duckdb", "gate_peak_rss_mb", "DuckDB, the gate's own memory_limit of 128MB"),
        _rss_verdict(found, "duckdb", "limited_peak_rss_mb", "DuckDB, memory_limit given by the caller"),
    ]
    for engine, rows, field, limit in STEADY_TARGETS:
        item = by_key.get((engine, rows))
        ratio = getattr(item, field) if item else None
        against = {"steady_ratio": "first run", "steady_floor_ratio": "floor", "backtest_ratio": "first run"}
        subject = "backtest of 90 days" if field == "backtest_ratio" else "steady daily run"
        lines.append(
            (
                f"{engine} {scenario.size_label(rows)}: {subject} <= {limit}x {against[field]}",
                _ratio(ratio),
                _verdict(None if ratio is None else ratio <= limit),
            )
        )
    for engine in ("duckdb", "postgresql"):
        item = by_key.get((engine, TARGET_ROWS))
        if item is None or item.speedup is None:
            lines.append((f"{engine} 10M: >= 20x faster than Evidently, less memory", "-", "not measured"))
            continue
        faster = item.speedup >= 20 or item.evidently_failure is not None
        leaner = (item.gate_peak_rss_mb or 0) < (item.evidently_peak_rss_mb or 0)
        text = (
            f"{item.speedup:.0f}x faster; {item.gate_peak_rss_mb:.0f} vs {item.evidently_peak_rss_mb:.0f} MB"
        )
        if item.evidently_failure:
            text = f"Evidently did not finish ({item.evidently_failure}); gate {item.gate_s:.1f} s"
        lines.append(
            (
                f"{engine} 10M: >= 20x faster than Evidently, less memory",
                text,
                "met" if faster and leaner else "missed",
            )
        )
    return lines


def _rss_verdict(found: list[Measurement], engine: str, field: str, label: str) -> tuple[str, str, str]:
    """Whether the gate's peak RSS stays under the target at every measured size from 1M rows."""
    sized = [
        item for item in found if item.engine == engine and item.rows >= 1_000_000 and getattr(item, field)
    ]
    measured = (
        ", ".join(f"{scenario.size_label(item.rows)}: {getattr(item, field):.0f} MB" for item in sized) or "-"
    )
    worst = max((getattr(item, field) for item in sized), default=None)
    met = None if worst is None else worst < RSS_TARGET_MB
    return (f"peak RSS < {RSS_TARGET_MB} MB, 1M-100M ({label})", measured, _verdict(met))


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _verdict(met: bool | None) -> str:
    return "not measured" if met is None else ("met" if met else "missed")


def query_breakdown(found: list[Measurement]) -> list[str]:
    """Where the gate's first run spends its time at 10M rows: each query's purpose, rows returned and seconds."""
    runs = [item for item in found if item.rows == TARGET_ROWS and item.query_log]
    if not runs:
        return []
    lines = [
        "",
        "Gate queries of the first run at 10M rows (from `warehouse.query_log`):",
        "",
        "| engine | query | rows returned | seconds | share of gate time |",
        "|---|---|---|---|---|",
    ]
    for item in runs:
        for purpose, rows, seconds in item.query_log:
            share = f"{100 * seconds / item.gate_s:.0f}%" if item.gate_s else "-"
            lines.append(
                f"| {item.engine} | {purpose.split(' ', 2)[-1]} | {rows:,} | {seconds:.3f} | {share} |"
            )
        other = (item.gate_s or 0) - sum(seconds for _, _, seconds in item.query_log)
        if item.gate_s and other >= 0:
            share = f"{100 * other / item.gate_s:.0f}%"
            lines.append(
                f"| {item.engine} | (no query: reflection, checks, decision) | - | {other:.3f} | {share} |"
            )
        elif item.gate_s:
            lines.append(f"| {item.engine} | (queries ran concurrently: shares overlap) | - | - | - |")
    return lines


def table(results: Path) -> str:
    """The machine, the results table and the target verdicts as markdown."""
    data = load(results)
    found = measurements(data)
    machine = data["machine"]
    lines = [
        f"Machine: {machine.get('cores')} cores ({machine.get('cpu')}), {machine.get('memory_gb')} GB RAM; "
        f"Python {machine.get('python')}, DuckDB {machine.get('duckdb')}, PostgreSQL {machine.get('postgresql')}.",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
        *("| " + " | ".join(row(item)) + " |" for item in found),
        "",
        "| target | measured | verdict |",
        "|---|---|---|",
        *(f"| {target} | {measured} | {verdict} |" for target, measured, verdict in verdicts(found)),
        *query_breakdown(found),
    ]
    return "\n".join(lines)


def update_readme(results: Path, readme: Path) -> None:
    """Replace the generated block of the README with the current table."""
    text = readme.read_text()
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    readme.write_text(f"{head}{BEGIN}\n{table(results)}\n{END}{tail}")


def plot(results: Path, image: Path) -> None:
    """Draw time and memory against rows with matplotlib from the Evidently virtualenv."""
    subprocess.run(
        [str(evidently_env.ensure()), "-m", "benchmarks.plot", str(results), str(image)],
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
