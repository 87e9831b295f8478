"""null_rate: the share of NULLs in a feature column rises over the window, spikes on some days, or is 100%."""

from __future__ import annotations

from pydantic import Field

from airflow_retrain_gate.core import stats
from airflow_retrain_gate.core.checks.context import CheckInputs, outcome
from airflow_retrain_gate.core.checks.registry import CheckSettings, register
from airflow_retrain_gate.core.events import describe_events, events_on, fully_explained
from airflow_retrain_gate.core.findings import Action, Finding, Status
from airflow_retrain_gate.core.profiles import TableProfile


class NullRateSettings(CheckSettings):
    """How much the NULL share may rise over the window, and on a single day."""

    max_increase: float = Field(
        default=0.05, gt=0, le=1, description="Window-level rise of the NULL share that fails."
    )
    daily_spike: float = Field(
        default=0.2, gt=0, le=1, description="One day's rise of the NULL share that fails."
    )


def null_share_finding(
    inputs: CheckInputs,
    subject: str,
    reference: TableProfile,
    current: TableProfile,
    column: str,
    settings: NullRateSettings,
) -> Finding:
    """Whether the NULL share of `column` (a feature or the score) rose over the window, spiked, or is 100%."""
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
    spikes, elevated = [], []
    for day, nulls, rows in zip(current.days, daily_nulls, current.daily_rows, strict=True):
        if rows:
            day_increase, day_p = stats.two_proportions(ref_nulls, reference.rows, nulls, rows)
            day_size = stats.effective_size(reference.rows, rows)
            if inputs.material(day_increase, settings.max_increase, day_p, day_size):
                elevated.append(day)
            if inputs.material(day_increase, settings.daily_spike, day_p, day_size):
                spikes.append(day)
    evidence = {
        "reference_share": ref_share,
        "current_share": cur_share,
        "daily": {
            "days": list(current.days),
            "null_share": [
                nulls / rows if rows else None
                for nulls, rows in zip(daily_nulls, current.daily_rows, strict=True)
            ],
            "reference_share": ref_share,
        },
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
    reads=("features",),
    action=Action.FIX_FEATURES,
    summary="The NULL share of each feature does not rise, over the window or on a day.",
    guards_training=True,
)
def check_null_rate(inputs: CheckInputs, settings: NullRateSettings) -> list[Finding]:
    """One finding per feature column."""
    reference, current = inputs.profiles.features_reference, inputs.profiles.features_current
    assert reference is not None and current is not None
    table = inputs.policy.tables.features.subject
    return [
        null_share_finding(inputs, f"{table}.{name}", reference, current, name, settings)
        for name in [*reference.numeric, *reference.categorical]
    ]
