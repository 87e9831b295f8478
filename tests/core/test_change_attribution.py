"""change_attribution: a shift that starts with a release (a new value of a version column, or a deploy row in the
events table) is the release's doing: the gate alerts and names it, and never trains. The check's verdicts on
hand-built profiles first, then gates on real DuckDB warehouses built from the demo world."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from airflow_retrain_gate.core import Branch, Decision, Warehouse, parse_policy, run_gate
from airflow_retrain_gate.core.checks.change_attribution import (
    ChangeAttributionSettings,
    check_change_attribution,
)
from airflow_retrain_gate.core.checks.context import CheckInputs
from airflow_retrain_gate.core.findings import Action, Status
from airflow_retrain_gate.core.policy import PolicyError
from airflow_retrain_gate.core.profiling.profile_set import ProfileSet
from airflow_retrain_gate.core.profiling.profiles import (
    MISSING,
    OTHER,
    EventRecord,
    VersionCounts,
    VersionProfile,
)
from airflow_retrain_gate.core.timeframes import TimeWindow
from airflow_retrain_gate.demo.catalog import DEMO_AS_OF
from airflow_retrain_gate.demo.loading import load_tables
from airflow_retrain_gate.demo.stories import story_policy
from airflow_retrain_gate.demo.world import World, WorldConfig, generate, tables

FIELD = "tables.predictions.versions[0]"
ROWS_PER_DAY = 1000
REFERENCE_DAYS = 28
CURRENT_DAYS = 7


def version_profile(
    name: str, days: int, rates: dict[str, list[float]], shares: dict[str, list[float]]
) -> VersionProfile:
    """A window of `days` days, ROWS_PER_DAY predictions each, all with outcomes: each version holds its share of
    a day's rows and has its outcome rate there (0/1 labels); scores average 0.2 for every version."""
    start = datetime(2024, 5, 25, tzinfo=UTC) - (timedelta(days=35) if name == "reference" else timedelta(0))
    window = TimeWindow(name, start, start + timedelta(days=days))
    values = list(shares)
    sums: dict[str, list[list[float]]] = {}
    for day in range(days):
        rows = [ROWS_PER_DAY * shares[value][day] for value in values]
        positives = [count * rates[value][day] for count, value in zip(rows, values, strict=True)]
        per_metric = {
            "n": rows,
            **{
                f"label_{part}": list(series)
                for part, series in (("n", rows), ("sum", positives), ("sq", positives))
            },
            **{f"proxy_{part}": [0.0] * len(values) for part in ("n", "sum", "sq")},
            "score_n": rows,
            "score_sum": [0.2 * count for count in rows],
            "score_sq": [0.05 * count for count in rows],
        }
        for metric, row in per_metric.items():
            sums.setdefault(metric, []).append([*row, 0.0, 0.0])
    overall = {metric: tuple(sum(day) for day in by_day) for metric, by_day in sums.items()}
    counts = VersionCounts(
        FIELD,
        "prompt_version",
        (*values, OTHER, MISSING),
        {metric: tuple(tuple(day) for day in by_day) for metric, by_day in sums.items()},
    )
    return VersionProfile(window, tuple(day.isoformat() for day in window.days()), overall, (counts,))


def judge(
    current_rates: dict[str, list[float]],
    current_shares: dict[str, list[float]],
    *,
    events: tuple[EventRecord, ...] = (),
    reference_shares: dict[str, float] | None = None,
) -> list:
    """Run the check on a reference window where every version (default: v11 alone) has the outcome rate 0.2, and
    a current window."""
    shares = reference_shares or {"v11": 1.0}
    reference = version_profile(
        "reference",
        REFERENCE_DAYS,
        {value: [0.2] * REFERENCE_DAYS for value in shares},
        {value: [share] * REFERENCE_DAYS for value, share in shares.items()},
    )
    current = version_profile("current", CURRENT_DAYS, current_rates, current_shares)
    inputs = CheckInputs(
        ProfileSet(versions_reference=reference, versions_current=current, events=events),
        parse_policy(story_policy("prompt_release")),
        DEMO_AS_OF,
        reference.window,
        current.window,
    )
    return check_change_attribution(inputs, ChangeAttributionSettings())


def switch(day: int, old: float, new: float) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """v12 replaces v11 on day `day` of the current window; rates of v11 and v12 rows."""
    shares = {"v11": [1.0 if d < day else 0.0 for d in range(CURRENT_DAYS)]}
    shares["v12"] = [1.0 - share for share in shares["v11"]]
    return {"v11": [old] * CURRENT_DAYS, "v12": [new] * CURRENT_DAYS}, shares


def test_a_rate_that_falls_when_a_new_version_takes_over_is_attributed_to_it() -> None:
    [finding] = judge(*switch(2, old=0.2, new=0.12))

    assert finding.status is Status.FAIL and finding.action is Action.ALERT
    assert finding.subject == "predictions[model_name = 'fraud-scorer'].prompt_version"
    assert "fell 0.2 -> 0.12" in finding.message
    assert "'v12' took over on 2024-05-27" in finding.message
    assert "against the days before it" in finding.message
    assert finding.value == pytest.approx(0.4)


def test_a_version_that_takes_over_without_a_shift_passes() -> None:
    [finding] = judge(*switch(2, old=0.2, new=0.2))

    assert finding.status is Status.PASS
    assert "'v12' took over on 2024-05-27" in finding.message


def test_a_shift_that_started_before_the_version_is_not_the_versions_doing() -> None:
    rates, shares = switch(
        3, old=0.12, new=0.12
    )  # both versions at the new rate, against 0.2 in the reference

    [finding] = judge(rates, shares)

    assert finding.status is Status.PASS


def test_a_canary_is_compared_with_the_old_version_on_the_same_days() -> None:
    shares = {"v11": [1.0, 0.6, 0.6, 0.0, 0.0, 0.0, 0.0]}
    shares["v12"] = [1.0 - share for share in shares["v11"]]

    [finding] = judge({"v11": [0.2] * CURRENT_DAYS, "v12": [0.14] * CURRENT_DAYS}, shares)

    assert finding.status is Status.FAIL
    assert "against the other versions on the same days" in finding.message
    assert "took over on 2024-05-26" in finding.message


def test_a_version_seen_in_the_reference_is_not_new() -> None:
    shares = {"v11": [0.5] * CURRENT_DAYS, "v12": [0.5] * CURRENT_DAYS}
    rates = {"v11": [0.2] * CURRENT_DAYS, "v12": [0.1] * CURRENT_DAYS}

    [finding] = judge(rates, shares, reference_shares={"v11": 0.5, "v12": 0.5})

    assert finding.status is Status.PASS
    assert "No version took over" in finding.message


def test_a_deploy_row_on_the_day_the_shift_starts_counts_the_same_way() -> None:
    deploy = EventRecord(datetime(2024, 5, 28, 9, tzinfo=UTC), None, "Deploy", "ranker 4.2")
    campaign = EventRecord(datetime(2024, 5, 26, tzinfo=UTC), None, "campaign", "Spring promo")
    rates = {"v11": [0.2, 0.2, 0.2, 0.27, 0.27, 0.27, 0.27]}

    [finding] = judge(rates, {"v11": [1.0] * CURRENT_DAYS}, events=(deploy, campaign))

    assert finding.status is Status.FAIL
    assert "rose 0.2 -> 0.27" in finding.message
    assert "Deploy 'ranker 4.2' (2024-05-28 to ongoing) started on 2024-05-28" in finding.message


def test_too_few_rows_of_the_new_version_do_not_decide() -> None:
    rates, shares = switch(6, old=0.2, new=0.1)

    [finding] = judge(rates, {name: [share * 0.15 for share in values] for name, values in shares.items()})

    assert finding.status is Status.INSUFFICIENT_DATA, finding.message
    assert "fewer than 200 of its rows" in finding.message


def policy_with(**changes: object) -> dict:
    """The prompt_release story's policy with `changes` applied to its predictions mapping and top level."""
    policy = story_policy("prompt_release")
    policy["tables"]["predictions"].update(changes.pop("predictions", {}))
    policy.update(changes)
    return policy


@pytest.mark.parametrize(
    ("predictions", "actions", "problem"),
    [
        (
            {"versions": ["score"]},
            {},
            "tables.predictions: versions[0]: column 'score' is already mapped as score",
        ),
        ({"versions": ["v", "v"]}, {}, "tables.predictions.versions: column 'v' is listed twice"),
        (
            {},
            {"change_attribution": "train"},
            "actions.change_attribution: change_attribution attributes a shift",
        ),
        (
            {},
            {"change_attribution": "none"},
            "actions.change_attribution: change_attribution attributes a shift",
        ),
    ],
)
def test_policy_errors_name_the_field(predictions: dict, actions: dict, problem: str) -> None:
    with pytest.raises(PolicyError, match=problem.replace("[", r"\[").replace("]", r"\]")):
        parse_policy(policy_with(predictions=predictions, actions=actions))


def gate(url: str, change: Callable[[World], None], policy: dict | None = None, seed: int = 0) -> Decision:
    """Build the demo world (smaller), apply `change`, load it into `url` and run the gate."""
    world = generate(WorldConfig(seed=seed, rows_per_day=ROWS_PER_DAY))
    change(world)
    frames = tables(world)
    load_tables(url, frames)
    warehouse = Warehouse(url)
    try:
        return run_gate(parse_policy(policy or story_policy("prompt_release")), warehouse, DEMO_AS_OF)
    finally:
        warehouse.dispose()


def release(world: World, day: int = 3) -> np.ndarray:
    """Ship prompt v12 from day `day` of the current window; returns the rows it serves."""
    shipped = world.current_days_from(day)
    world.prompt_version[shipped] = "v12"
    return shipped


@pytest.mark.parametrize("seed", [0, 1])
def test_a_release_that_changes_nothing_is_silent(duckdb_url: str, seed: int) -> None:
    decision = gate(duckdb_url, release, seed=seed)

    assert decision.branch is Branch.SKIP, decision.reasons
    [finding] = [f for f in decision.findings if f.check == "change_attribution"]
    assert finding.status is Status.PASS and "'v12' took over" in finding.message


def test_concept_drift_that_began_before_a_release_still_trains(duckdb_url: str) -> None:
    def drift_then_release(world: World) -> None:
        world.label_logit_shift = np.where(world.current, 0.9, 0.0)
        release(world)

    decision = gate(duckdb_url, drift_then_release)

    assert decision.branch is Branch.TRAIN, decision.reasons
    assert {"concept_drift", "performance"} & set(decision.deciding_checks)


def test_a_deploy_in_the_events_table_explains_the_shift_and_blocks_train(duckdb_url: str) -> None:
    def deploy(world: World) -> None:
        deployed = world.current_days_from(2)
        world.label_logit_shift = np.where(deployed, -0.9, 0.0)
        first = world.config.days - world.config.current_days + 2
        world.extra_events.append(
            {
                "starts_at": world.day_start(first) + timedelta(hours=9),
                "ends_at": None,
                "kind": "deploy",
                "description": "Prompt v12",
            }
        )

    decision = gate(duckdb_url, deploy)

    assert decision.branch is Branch.ALERT, decision.reasons
    assert decision.deciding_checks[0] == "change_attribution"
    assert "deploy 'Prompt v12'" in decision.reasons[0] and "started on 2024-05-27" in decision.reasons[0]
    attributed = [reason for reason in decision.reasons if reason.startswith("Also seen (train, not taken")]
    assert attributed and "the shift is attributed to deploy 'Prompt v12'" in attributed[0]


def test_the_policy_can_send_an_attributed_shift_to_fix_features(duckdb_url: str) -> None:
    def worse_release(world: World) -> None:
        world.label_logit_shift = np.where(release(world, 2), -0.9, 0.0)

    decision = gate(duckdb_url, worse_release, policy_with(actions={"change_attribution": "fix_features"}))

    assert decision.branch is Branch.FIX_FEATURES, decision.reasons
    assert decision.deciding_checks == ("change_attribution",)
    assert "prompt_version 'v12' took over on 2024-05-27" in decision.reasons[0]
