"""null_rate: the share of NULLs in a feature column rises over the window, spikes on some days, or is 100%."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import Field

from airflow_retrain_gate.core import stats
from airflow_retrain_gate.core.chart_evidence import ChartKey, DailySeries
from airflow_retrain_gate.core.checks.context import CheckInputs, outcome
from airflow_retrain_gate.core.checks.registry import CheckSettings, register
from airflow_retrain_gate.core.events import describe_events, events_on, fully_explained
from airflow_retrain_gate.core.findings import Action, Finding, Status
from airflow_retrain_gate.core.multiple_testing import adjust_family
from airflow_retrain_gate.core.profiling.kinds import ProfileKind
from airflow_retrain_gate.core.profiling.profiles import TableProfile


class NullRateSettings(CheckSettings):
    """How much the NULL share may rise over the window, and on a single day."""

    max_increase: float = Field(
        default=0.05, gt=0, le=1, description="Window-level rise of the NULL share that fails."
    )
    daily_spike: float = Field(
        default=0.2, gt=0, le=1, description="One day's rise of the NULL share that fails."
    )


@dataclass(frozen=True)
class DailyNullRise:
    """One current day's rise of a column's NULL share over the reference's, and its test."""

    day: str
    increase: float
    p_value: float
    sample_size: float


def daily_null_rises(
    reference: TableProfile, current: TableProfile, column: str
) -> list[DailyNullRise | None]:
    """Per current day, the NULL share's rise against the whole reference window (None: a day without rows)."""
    ref_nulls = (reference.numeric.get(column) or reference.categorical[column]).nulls
    current_column = current.numeric.get(column) or current.categorical[column]
    rises: list[DailyNullRise | None] = []
    for day, nulls, rows in zip(current.days, current_column.daily_nulls, current.daily_rows, strict=True):
        if not rows or not reference.rows:
            rises.append(None)
            continue
        increase, p_value = stats.two_proportions(ref_nulls, reference.rows, nulls, rows)
        rises.append(DailyNullRise(day, increase, p_value, stats.effective_size(reference.rows, rows)))
    return rises


def _p_values(rises: list[DailyNullRise | None]) -> list[float | None]:
    return [None if rise is None else rise.p_value for rise in rises]


def null_share_finding(
    inputs: CheckInputs,
    subject: str,
    reference: TableProfile,
    current: TableProfile,
    column: str,
    settings: NullRateSettings,
    daily_q_values: Sequence[float | None] | None = None,
) -> Finding:
    """Whether the NULL share of `column` (a feature or the score) rose over the window, spiked, or is 100%.

    A day spikes on its p-value adjusted with the other tested days: `daily_q_values` when the caller adjusted
    several columns' days together, else Benjamini-Hochberg over this column's days.
    """
    current_column = current.numeric.get(column) or current.categorical[column]
    ref_nulls = (reference.numeric.get(column) or reference.categorical[column]).nulls
    cur_nulls, daily_nulls = current_column.nulls, current_column.daily_nulls
    if reference.rows < inputs.min_rows or current.rows < inputs.min_rows:
        return outcome(
            "null_rate",
            subject,
            Status.INSUFFICIENT_DATA,
            f"Column {subject}: fewer than {inputs.min_rows} rows in a window.",
        )
    increase, p_value = stats.two_proportions(ref_nulls, reference.rows, cur_nulls, current.rows)
    size = stats.effective_size(reference.rows, current.rows)
    ref_share, cur_share = ref_nulls / reference.rows, cur_nulls / current.rows
    rises = daily_null_rises(reference, current, column)
    if daily_q_values is None:
        daily_q_values = adjust_family({column: _p_values(rises)})[column]
    spikes, elevated = [], []
    for rise, q_value in zip(rises, daily_q_values, strict=True):
        if rise is None or q_value is None:
            continue
        if inputs.material(rise.increase, settings.max_increase, q_value, rise.sample_size):
            elevated.append(rise.day)
        if inputs.material(rise.increase, settings.daily_spike, q_value, rise.sample_size):
            spikes.append(rise.day)
    evidence = {
        "reference_share": ref_share,
        "current_share": cur_share,
        ChartKey.DAILY: DailySeries(
            current.days,
            {
                "null_share": [
                    nulls / rows if rows else None
                    for nulls, rows in zip(daily_nulls, current.daily_rows, strict=True)
                ]
            },
            reference_level=ref_share,
        ).to_dict(),
    }
    window_material = inputs.material(increase, settings.max_increase, p_value, size)
    if not window_material and not spikes and cur_nulls < current.rows:  # a column with no values is dead
        return outcome(
            "null_rate",
            subject,
            Status.PASS,
            f"Column {subject}: NULL share {ref_share:.1%} -> {cur_share:.1%}.",
            statistic="null_share_increase",
            value=increase,
            threshold=settings.max_increase,
            evidence=evidence,
        )
    if cur_nulls == current.rows:
        message = (
            f"Column {subject} is entirely NULL in the current window (it was {ref_share:.1%} NULL before)."
        )
    elif window_material:
        message = f"Column {subject}: NULL share rose from {ref_share:.1%} to {cur_share:.1%}."
    else:
        message = f"Column {subject}: NULL spike on {', '.join(spikes)} (reference {ref_share:.1%} NULL)."
    explained = fully_explained(elevated, inputs.profiles.events)
    if explained:
        message += f" Only on days of known event(s): {describe_events(events_on(elevated, inputs.profiles.events))}."
    else:
        message += " The upstream source is dropping values; fix the feature before training."
    return outcome(
        "null_rate",
        subject,
        Status.FAIL,
        message,
        action=Action.ALERT if explained else Action.FIX_FEATURES,
        statistic="null_share_increase",
        value=increase,
        threshold=settings.max_increase,
        evidence={**evidence, "spike_days": spikes, "p_value": p_value},
    )


@register(
    "null_rate",
    settings=NullRateSettings,
    reads=(ProfileKind.FEATURES,),
    action=Action.FIX_FEATURES,
    summary="The NULL share of each feature does not rise, over the window or on a day.",
    guards_training=True,
)
def check_null_rate(inputs: CheckInputs, settings: NullRateSettings) -> list[Finding]:
    """One finding per feature column."""
    reference, current = inputs.profiles.features_reference, inputs.profiles.features_current
    assert reference is not None and current is not None
    table = inputs.policy.tables.features.subject
    columns = [*reference.numeric, *reference.categorical]
    # Every column's days form one family: 7 days x 20 columns are 140 chances of a chance spike.
    q_values = adjust_family(
        {name: _p_values(daily_null_rises(reference, current, name)) for name in columns}
    )
    return [
        null_share_finding(inputs, f"{table}.{name}", reference, current, name, settings, q_values[name])
        for name in columns
    ]
