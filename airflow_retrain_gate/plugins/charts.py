"""Server-side SVG charts (grouped bars and daily lines); every text from data is escaped."""

from __future__ import annotations

import math
from collections.abc import Sequence

from markupsafe import Markup, escape

Value = float | None

WIDTH, HEIGHT = 560, 230
LEFT, RIGHT, TOP = 64, 12, 30
PALETTE = ("#2563eb", "#d97706", "#059669", "#7c3aed", "#db2777")
REFERENCE_COLOUR = "#9ca3af"
BRANCH_COLOURS = {"fix_features": "#dc2626", "alert": "#d97706", "train": "#2563eb", "skip": "#6b7280"}
"""Rows of the branch chart, top to bottom in precedence order, in the badge colours of the pages."""


def bar_chart(
    labels: Sequence[str], reference: Sequence[Value], current: Sequence[Value], *, percent: bool = True
) -> Markup:
    """Reference and current values side by side per label (histogram bins, categories, bands)."""
    values = [v for v in (*reference, *current) if v is not None]
    low, high, ticks = _axis([0.0, *values])
    bottom = _bottom_margin(labels)
    plot = _Plot(low, high, bottom)
    slot = plot.width / max(len(labels), 1)
    bar = slot * 0.38
    parts = [plot.grid(ticks, percent)]
    for index, label in enumerate(labels):
        left = LEFT + index * slot + slot * 0.12
        for offset, (name, colour, series) in enumerate(
            (("reference", REFERENCE_COLOUR, reference), ("current", PALETTE[0], current))
        ):
            value = series[index] if index < len(series) else None
            if value is None:
                continue
            top, base = plot.y(max(value, 0.0)), plot.y(min(value, 0.0))
            parts.append(
                f'<rect x="{left + offset * bar:.1f}" y="{top:.1f}" width="{bar:.1f}" '
                f'height="{max(base - top, 0.5):.1f}" fill="{colour}">'
                f"<title>{escape(label)}: {name} {_format(value, percent)}</title></rect>"
            )
        parts.append(plot.x_label(LEFT + (index + 0.5) * slot, label, rotate=bottom > 40))
    legend = _legend([("reference", REFERENCE_COLOUR, False), ("current", PALETTE[0], False)])
    return _svg(plot.height, parts + [legend])


def level_bars(
    labels: Sequence[str], values: Sequence[float], *, level: float, level_name: str, colours: Sequence[str]
) -> Markup:
    """One bar per label in its colour, against a dashed level (a threshold, a failing level)."""
    low, high, ticks = _axis([0.0, level, *values])
    plot = _Plot(low, high, _bottom_margin(labels))
    slot = plot.width / max(len(labels), 1)
    parts = [plot.grid(ticks, False)]
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        top, base = plot.y(max(value, 0.0)), plot.y(min(value, 0.0))
        parts.append(
            f'<rect x="{LEFT + index * slot + slot * 0.2:.1f}" y="{top:.1f}" width="{slot * 0.6:.1f}" '
            f'height="{max(base - top, 0.5):.1f}" fill="{colours[index % len(colours)]}">'
            f"<title>{escape(label)}: {_format(value, False)}</title></rect>"
        )
        parts.append(plot.x_label(LEFT + (index + 0.5) * slot, label))
    parts.append(plot.level(level, f"{level_name} {_format(level, False)}"))
    return _svg(plot.height, parts + [_legend([(level_name, REFERENCE_COLOUR, True)])])


def branch_chart(days: Sequence[str], branches: Sequence[str], notes: Sequence[str]) -> Markup:
    """Which branch each decision took (one of BRANCH_COLOURS), left to right: a row per branch, a dot per
    decision whose tooltip is its day, branch and `notes` entry."""
    rows = list(BRANCH_COLOURS)
    height = TOP + 24 * len(rows) + 34
    bottom = TOP + 24 * len(rows)
    step = (WIDTH - LEFT - RIGHT) / max(len(days), 1)
    xs = [LEFT + (index + 0.5) * step for index in range(len(days))]

    def y(branch: str) -> float:
        return TOP + 12 + 24 * rows.index(branch)

    parts = [
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(branch):.1f}" y2="{y(branch):.1f}" stroke="#e5e7eb"/>'
        f'<text x="{LEFT - 6}" y="{y(branch) + 4:.1f}" text-anchor="end" class="tick">{branch}</text>'
        for branch in rows
    ]
    points = " ".join(f"{x:.1f},{y(branch):.1f}" for x, branch in zip(xs, branches, strict=True))
    parts.append(f'<polyline points="{points}" fill="none" stroke="#d1d5db" stroke-width="1.5"/>')
    for x, branch, day, note in zip(xs, branches, days, notes, strict=True):
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y(branch):.1f}" r="5" fill="{BRANCH_COLOURS[branch]}">'
            f"<title>{escape(day)}: {escape(branch)}{escape(note)}</title></circle>"
        )
    label_every = max(1, math.ceil(len(days) / 10))
    parts += [
        f'<text x="{x:.1f}" y="{bottom + 16:.1f}" text-anchor="middle" class="tick">{escape(_short_day(day))}</text>'
        for x, day in list(zip(xs, days, strict=False))[::label_every]
    ]
    return _svg(height, parts)


def line_chart(
    days: Sequence[str],
    series: dict[str, Sequence[Value]],
    *,
    reference: float | None = None,
    reference_name: str = "reference",
    flagged: Sequence[bool] | None = None,
    percent: bool = False,
) -> Markup:
    """Daily series as lines, with the reference level (or a threshold) dashed and flagged days shaded."""
    values = [v for values in series.values() for v in values if v is not None]
    if reference is not None:
        values.append(reference)
    low, high, ticks = _axis(values or [0.0])
    plot = _Plot(low, high, 34)
    step = plot.width / max(len(days), 1)
    centre = [LEFT + (index + 0.5) * step for index in range(len(days))]
    parts = [plot.grid(ticks, percent)]
    for index, flag in enumerate(flagged or ()):
        if flag:
            parts.append(
                f'<rect x="{centre[index] - step / 2:.1f}" y="{TOP}" width="{step:.1f}" '
                f'height="{plot.bottom - TOP:.1f}" fill="#fde68a" opacity="0.55">'
                f"<title>{escape(days[index])}: flagged</title></rect>"
            )
    if reference is not None:
        parts.append(plot.level(reference, f"{reference_name} {_format(reference, percent)}"))
    entries = []
    for number, (name, points) in enumerate(series.items()):
        colour = PALETTE[number % len(PALETTE)]
        entries.append((name, colour, False))
        parts.append(_polyline(plot, centre, points, colour))
        for x, value, day in zip(centre, points, days, strict=False):
            if value is not None:
                parts.append(
                    f'<circle cx="{x:.1f}" cy="{plot.y(value):.1f}" r="3" fill="{colour}">'
                    f"<title>{escape(day)}: {escape(name)} {_format(value, percent)}</title></circle>"
                )
    label_every = max(1, math.ceil(len(days) / 10))
    parts += [
        plot.x_label(x, _short_day(day)) for x, day in list(zip(centre, days, strict=False))[::label_every]
    ]
    if reference is not None:
        entries.append((reference_name, REFERENCE_COLOUR, True))
    return _svg(plot.height, parts + [_legend(entries)])


class _Plot:
    """The plotting area of one chart and its value-to-pixel mapping."""

    def __init__(self, low: float, high: float, bottom_margin: float) -> None:
        self.low, self.high = low, high
        self.height = TOP + 150 + bottom_margin
        self.bottom = TOP + 150
        self.width = WIDTH - LEFT - RIGHT

    def y(self, value: float) -> float:
        span = self.high - self.low or 1.0
        return self.bottom - (value - self.low) / span * (self.bottom - TOP)

    def grid(self, ticks: list[float], percent: bool) -> str:
        lines = []
        for tick in ticks:
            y = self.y(tick)
            lines.append(
                f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e5e7eb"/>'
                f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" class="tick">{_format(tick, percent)}</text>'
            )
        return "".join(lines)

    def level(self, value: float, title: str) -> str:
        y = self.y(value)
        return (
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="{REFERENCE_COLOUR}" '
            f'stroke-width="2" stroke-dasharray="6 4"><title>{escape(title)}</title></line>'
        )

    def x_label(self, x: float, label: str, *, rotate: bool = False) -> str:
        y = self.bottom + 14
        shown = escape(label if len(label) <= 18 else label[:17] + "…")
        if rotate:
            return (
                f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="end" class="tick" '
                f'transform="rotate(-35 {x:.1f} {y:.1f})">{shown}<title>{escape(label)}</title></text>'
            )
        return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="middle" class="tick">{shown}</text>'


def _polyline(plot: _Plot, xs: list[float], values: Sequence[Value], colour: str) -> str:
    """Line segments through consecutive known values; a gap (None) breaks the line."""
    runs: list[list[str]] = [[]]
    for x, value in zip(xs, values, strict=False):
        if value is None:
            runs.append([])
        else:
            runs[-1].append(f"{x:.1f},{plot.y(value):.1f}")
    return "".join(
        f'<polyline points="{" ".join(run)}" fill="none" stroke="{colour}" stroke-width="2"/>'
        for run in runs
        if len(run) > 1
    )


def _legend(entries: list[tuple[str, str, bool]]) -> str:
    parts, x = [], float(LEFT)
    for name, colour, dashed in entries:
        dash = ' stroke-dasharray="4 3"' if dashed else ""
        parts.append(
            f'<line x1="{x:.1f}" x2="{x + 16:.1f}" y1="12" y2="12" stroke="{colour}" stroke-width="4"{dash}/>'
            f'<text x="{x + 20:.1f}" y="16" class="legend">{escape(name)}</text>'
        )
        x += 32 + 7 * len(name)
    return "".join(parts)


def _svg(height: float, parts: list[str]) -> Markup:
    return Markup(
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height:.0f}" width="100%" overflow="visible" role="img" '
        f'xmlns="http://www.w3.org/2000/svg">{"".join(parts)}</svg>'
    )


def _axis(values: Sequence[float]) -> tuple[float, float, list[float]]:
    """Axis bounds on round numbers covering `values`, and about five ticks between them."""
    low, high = min(values), max(values)
    if math.isclose(low, high):
        pad = abs(low) * 0.1 or 1.0
        low, high = low - pad, high + pad
    raw_step = (high - low) / 4
    magnitude = 10 ** math.floor(math.log10(raw_step))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw_step)
    start, end = math.floor(low / step) * step, math.ceil(high / step) * step
    ticks = [start + i * step for i in range(int(round((end - start) / step)) + 1)]
    return start, end, ticks


def _format(value: float, percent: bool) -> str:
    if percent:
        return f"{value * 100:.3g}%"
    magnitude = abs(value)
    if magnitude >= 1e6:
        return f"{value / 1e6:.3g}M"
    if magnitude >= 1e4:
        return f"{value / 1e3:.3g}k"
    return f"{value:.4g}"


def _bottom_margin(labels: Sequence[str]) -> float:
    longest = max((len(label) for label in labels), default=0)
    if longest * 7 * len(labels) < WIDTH - LEFT - RIGHT:
        return 34
    return 20 + 5.2 * min(longest, 18)


def _short_day(day: str) -> str:
    """2024-05-25 -> 05-25: the year is in the page header."""
    return day[5:] if len(day) == 10 and day[4] == "-" else day
