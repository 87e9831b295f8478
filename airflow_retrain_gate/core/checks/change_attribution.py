"""change_attribution: a shift in outcomes, the proxy or the scores that starts when a new version takes over (a
prompt, an app release, a UI variant, named by the tables' `versions` columns) or on the day of a deploy in the
events table is the change's doing, not a new world: a person decides about the change, and the gate never trains
on it. Reads outcome, proxy and score sums per day and version value, and the events table."""

from __future__ import annotations

import math
from dataclasses import dataclass

from pydantic import Field

from airflow_retrain_gate.core import stats
from airflow_retrain_gate.core.checks.context import CheckInputs, outcome
from airflow_retrain_gate.core.checks.registry import CheckSettings, register
from airflow_retrain_gate.core.findings import ATTRIBUTED_CHANGE, Action, Finding, Status
from airflow_retrain_gate.core.moments import Moments
from airflow_retrain_gate.core.profiling.kinds import ProfileKind
from airflow_retrain_gate.core.profiling.profiles import MISSING, OTHER, VersionCounts, VersionProfile


class ChangeAttributionSettings(CheckSettings):
    """When a value of a version column counts as a new version, and which move of a metric counts as a shift."""

    max_prior_share: float = Field(
        default=0.05,
        ge=0,
        lt=1,
        description="A value is new when it held at most this share of rows in the reference window and on the "
        "current window's days before it appeared.",
    )
    min_share: float = Field(
        default=0.2,
        gt=0,
        le=1,
        description="Share of rows a new value must hold from its first day on to be a change worth judging.",
    )
    min_relative_change: float = Field(
        default=0.1,
        gt=0,
        description="Relative move of the outcome rate, proxy rate or mean score that counts as a shift: a tenth, "
        "the move proxy_alignment counts for a proxy.",
    )
    event_kinds: list[str] = Field(
        default_factory=lambda: ["deploy", "release"],
        description="Kinds of events-table rows that are changes (deploys, releases); compared ignoring case.",
    )


@dataclass(frozen=True)
class Sums:
    """Count, sum and sum of squares of one metric over some rows."""

    count: float = 0.0
    total: float = 0.0
    squares: float = 0.0

    def __add__(self, other: Sums) -> Sums:
        return Sums(self.count + other.count, self.total + other.total, self.squares + other.squares)

    @property
    def mean(self) -> float:
        """The metric's mean over the rows (NaN without rows)."""
        return self.total / self.count if self.count else math.nan

    def moments(self) -> Moments:
        """Count, mean and spread, for a two-sample test."""
        if not self.count:
            return Moments()
        return Moments(int(self.count), self.mean, max(self.squares - self.count * self.mean**2, 0.0))


METRICS = ("label", "proxy", "score")
"""The metrics a change may shift: matured labels (the outcome), the proxy, the model's score."""


def daily_sums(sums: dict[str, tuple[float, ...]], metric: str, days: range) -> Sums:
    """A metric's sums over the given day indexes of a per-day series."""
    parts = [sums.get(f"{metric}_{part}", ()) for part in ("n", "sum", "sq")]
    return Sums(*(float(sum(series[day] for day in days if day < len(series))) for series in parts))


def value_sums(counts: VersionCounts, metric: str, days: range, values: set[str], keep: bool) -> Sums:
    """A metric's sums over the given days, over the rows of `values` (`keep`) or of every other value."""
    slots = [index for index, value in enumerate(counts.values) if (value in values) == keep]
    parts = [counts.sums.get(f"{metric}_{part}", ()) for part in ("n", "sum", "sq")]
    return Sums(
        *(
            float(sum(series[day][slot] for day in days for slot in slots)) if series else 0.0
            for series in parts
        )
    )


@dataclass(frozen=True)
class Change:
    """A change the gate can attribute a shift to: a new version value, or a deploy, from its first day on."""

    subject: str
    named: str
    """How messages name it: "predictions.prompt_version 'v12'", "deploy 'Prompt v12' (2024-05-27 to ongoing)"."""
    verb: str
    """What it did on its first day: "took over", "started"."""
    first_day: int
    """Index of its first day among the current window's days."""
    after: dict[str, Sums]
    """Metric -> sums over the changed rows from the first day on."""
    same_days: dict[str, Sums]
    """Metric -> sums over the unchanged rows from the first day on (empty when unchanged rows cannot be told
    apart, as for a deploy)."""
    share: float | None = None
    """The new value's share of rows from its first day on (None for a deploy)."""


@dataclass(frozen=True)
class Shift:
    """One metric's move with a change: the changed rows against a baseline, and against the reference."""

    metric: str
    baseline_name: str
    baseline: float
    after: float
    relative_change: float
    p_value: float
    material: bool


def new_versions(
    current: VersionCounts, reference: VersionCounts | None, settings: ChangeAttributionSettings
) -> list[tuple[str, int, float]]:
    """(value, first day index, share since) of each value that was absent (at most `max_prior_share` of rows) in
    the reference and before its first day, and holds at least `min_share` of rows from its first day on."""
    rows = [sum(day) for day in current.sums["n"]]
    found = []
    for slot, value in enumerate(current.values):
        if value in (OTHER, MISSING) or _share(reference, value) > settings.max_prior_share:
            continue
        counts = [day[slot] for day in current.sums["n"]]
        first = next(
            (
                day
                for day, total in enumerate(rows)
                if total and counts[day] / total > settings.max_prior_share
            ),
            None,
        )
        if first is None:
            continue
        share = sum(counts[first:]) / max(sum(rows[first:]), 1)
        if share >= settings.min_share:
            found.append((value, first, share))
    return found


def _share(counts: VersionCounts | None, value: str) -> float:
    """A value's share of a window's rows; a value the window did not track has at most the share of OTHER."""
    if counts is None:
        return 0.0
    totals = [sum(day[slot] for day in counts.sums["n"]) for slot in range(len(counts.values))]
    slot = counts.values.index(value) if value in counts.values else counts.values.index(OTHER)
    return totals[slot] / sum(totals) if sum(totals) else 0.0


def changes(inputs: CheckInputs, settings: ChangeAttributionSettings) -> list[Change]:
    """Every new version value and every deploy event that starts within the current window's days."""
    current, reference = inputs.profiles.versions_current, inputs.profiles.versions_reference
    assert current is not None and reference is not None
    days = range(len(current.days))
    found = []
    for counts in current.columns:
        prior = next((column for column in reference.columns if column.field == counts.field), None)
        joined = "label_n" in counts.sums
        subject = _column_subject(inputs, counts)
        for value, first, share in new_versions(counts, prior, settings):
            since = range(first, len(days))
            after = {
                metric: value_sums(counts, metric, since, {value}, True)
                if joined
                else daily_sums(current.overall, metric, since)
                for metric in METRICS
            }
            same_days = (
                {metric: value_sums(counts, metric, since, {value}, False) for metric in METRICS}
                if joined
                else {}
            )
            found.append(Change(subject, f"{subject} {value!r}", "took over", first, after, same_days, share))
    events = inputs.policy.tables.events
    kinds = {kind.lower() for kind in settings.event_kinds}
    for event in inputs.profiles.events:
        day = event.starts_at.date().isoformat()
        if (event.kind or "").lower() in kinds and day in current.days:
            first = current.days.index(day)
            since = range(first, len(days))
            after = {metric: daily_sums(current.overall, metric, since) for metric in METRICS}
            subject = events.subject if events else "events"
            found.append(Change(subject, event.label(), "started", first, after, {}))
    return found


def _column_subject(inputs: CheckInputs, counts: VersionCounts) -> str:
    """`predictions[model_name = 'x'].prompt_version` for the column at policy path `counts.field`."""
    role = counts.field.split(".")[1]
    return f"{getattr(inputs.policy.tables, role).subject}.{counts.column}"


def judge(
    inputs: CheckInputs,
    change: Change,
    metric: str,
    current: VersionProfile,
    reference: VersionProfile,
    settings: ChangeAttributionSettings,
) -> Shift | None:
    """How `metric` moved with `change`: against the unchanged rows of the same days when there are enough,
    else the days before it, else the reference window; a move against a recent baseline must also be a move
    against the reference, in the same direction. None when the changed rows are too few to judge."""
    after = change.after[metric]
    if after.count < inputs.min_rows:
        return None
    whole_reference = daily_sums(reference.overall, metric, range(len(reference.days)))
    baselines = [
        ("the other versions on the same days", change.same_days.get(metric, Sums())),
        ("the days before it", daily_sums(current.overall, metric, range(change.first_day))),
        ("the reference window", whole_reference),
    ]
    name, baseline = next(
        ((name, sums) for name, sums in baselines if sums.count >= inputs.min_rows), (None, None)
    )
    if name is None or baseline is None:
        return None
    relative, p_value, material = _move(inputs, baseline, after, settings)
    if material and baseline is not whole_reference and whole_reference.count:
        # A recent baseline that was itself off (a dip the change ended) is no shift of the window.
        against_reference, _, also = _move(inputs, whole_reference, after, settings)
        material = also and against_reference * relative > 0
    return Shift(metric, name, baseline.mean, after.mean, relative, p_value, material)


def _move(
    inputs: CheckInputs, baseline: Sums, after: Sums, settings: ChangeAttributionSettings
) -> tuple[float, float, bool]:
    """(relative change of the mean, p-value of Welch's test, whether the move is material)."""
    difference, p_value = stats.mean_difference(baseline.moments(), after.moments())
    spread = math.sqrt(baseline.moments().variance) if baseline.count > 1 else 0.0
    # A baseline mean of zero has no relative change: the move is then measured in the baseline's spreads.
    scale = abs(baseline.mean) if baseline.mean else spread
    relative = difference / scale if scale else 0.0
    sample_size = stats.effective_size(baseline.count, after.count)
    return (
        relative,
        p_value,
        inputs.material(abs(relative), settings.min_relative_change, p_value, sample_size),
    )


def _metric_name(inputs: CheckInputs, metric: str, sums: Sums) -> str:
    """How a message names a metric: "outcome rate (outcome)", "proxy rate (clicked)", "mean score (score)"."""
    outcomes, predictions = inputs.policy.tables.outcomes, inputs.policy.tables.predictions
    column = {
        "label": outcomes.label if outcomes else "label",
        "proxy": (outcomes.proxy if outcomes else None) or "proxy",
        "score": predictions.score if predictions else "score",
    }[metric]
    kind = "rate" if sums.count and sums.squares == sums.total else "mean"
    noun = {"label": "outcome", "proxy": "proxy", "score": "score"}[metric]
    return f"mean score ({column})" if metric == "score" else f"{noun} {kind} ({column})"


@register(
    "change_attribution",
    settings=ChangeAttributionSettings,
    reads=(ProfileKind.OUTCOMES, ProfileKind.VERSIONS),
    action=Action.ALERT,
    summary="A shift in outcomes, proxy or scores starts when a new version takes over or a deploy lands: "
    "alert (never train).",
    explains_shift=True,
)
def check_change_attribution(inputs: CheckInputs, settings: ChangeAttributionSettings) -> list[Finding]:
    """One finding per new version value or deploy in the current window: fail when a metric shifts with it."""
    current, reference = inputs.profiles.versions_current, inputs.profiles.versions_reference
    assert current is not None and reference is not None
    found = changes(inputs, settings)
    if not found:
        watched = ", ".join(_column_subject(inputs, counts) for counts in current.columns) or "none"
        return [
            outcome(
                "change_attribution",
                inputs.policy.tables.outcomes.subject if inputs.policy.tables.outcomes else "outcomes",
                Status.PASS,
                f"No version took over and no {'/'.join(settings.event_kinds)} event started in the current window "
                f"(version columns: {watched}).",
            )
        ]
    return [_finding(inputs, change, current, reference, settings) for change in found]


def _finding(
    inputs: CheckInputs,
    change: Change,
    current: VersionProfile,
    reference: VersionProfile,
    settings: ChangeAttributionSettings,
) -> Finding:
    day = current.days[change.first_day]
    notes = [f"{change.share:.0%} of rows since"] if change.share is not None else []
    if change.first_day == 0:
        notes.append("the current window's first day: it may have shipped earlier")
    when = f"{change.named} {change.verb} on {day}" + (f" ({'; '.join(notes)})" if notes else "")
    shifts = [
        shift
        for metric in METRICS
        if (shift := judge(inputs, change, metric, current, reference, settings)) is not None
    ]
    evidence = {
        "change": change.named,
        "day": day,
        "share_since": change.share,
        "shifts": [
            shift.__dict__ | {"name": _metric_name(inputs, shift.metric, change.after[shift.metric])}
            for shift in shifts
        ],
    }
    if not shifts:
        return outcome(
            "change_attribution",
            change.subject,
            Status.INSUFFICIENT_DATA,
            f"{when}, but fewer than {inputs.min_rows} of its rows have outcomes, proxy values or scores "
            "to compare.",
            evidence=evidence,
        )
    material = [shift for shift in shifts if shift.material]
    strongest = max(material or shifts, key=lambda shift: abs(shift.relative_change))
    name = _metric_name(inputs, strongest.metric, change.after[strongest.metric])
    if not material:
        return outcome(
            "change_attribution",
            change.subject,
            Status.PASS,
            f"{when}; no outcome, proxy or score shift starts with it (largest move: {name} "
            f"{strongest.relative_change:+.1%} against {strongest.baseline_name}).",
            statistic="relative_change",
            value=abs(strongest.relative_change),
            threshold=settings.min_relative_change,
            evidence=evidence,
        )
    direction = "fell" if strongest.relative_change < 0 else "rose"
    return outcome(
        "change_attribution",
        change.subject,
        Status.FAIL,
        f"{name[0].upper()}{name[1:]} {direction} {strongest.baseline:.3g} -> {strongest.after:.3g} "
        f"({strongest.relative_change:+.0%} against {strongest.baseline_name}) when {when}. The shift starts "
        "with this change, so it is the change's doing, not a new world: review the change (roll it back, or "
        "accept it) before any retraining, which would learn its effect as if the world had changed.",
        action=inputs.policy.action_for("change_attribution"),
        statistic="relative_change",
        value=abs(strongest.relative_change),
        threshold=settings.min_relative_change,
        evidence={**evidence, ATTRIBUTED_CHANGE: f"{change.named} from {day}"},
    )
