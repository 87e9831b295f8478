"""A backtest replays the real gate date by date: each replayed decision is the one `diagnose --as-of` gives for
that date, except that the cooldown sees the trains replayed before it."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from airflow_retrain_gate.cli import main
from airflow_retrain_gate.core import Branch, Warehouse, parse_policy
from airflow_retrain_gate.core.backtest import ReplayedDay, dates_every, private_state, replay

LAST_DAY = datetime(2024, 5, 31, tzinfo=UTC)
DEMO_DAY = datetime(2024, 6, 1, tzinfo=UTC)
"""The concept_drift story's outcomes move in its last week (May 25-31): both dates see it."""


@pytest.fixture(scope="module")
def concept_drift(story_warehouse: Callable[[str, int], tuple[str, Path]]) -> tuple[str, Path]:
    """A DuckDB warehouse telling the concept-drift story (policy cooldown 7d), and its policy file."""
    return story_warehouse("concept_drift", 400)


@pytest.fixture(scope="module")
def replayed(concept_drift: tuple[str, Path]) -> list[ReplayedDay]:
    """The story replayed on its last two dates, one day apart."""
    url, policy = concept_drift
    policy_document = parse_policy(yaml.safe_load(policy.read_text()))
    return replay(policy_document, Warehouse(url), [LAST_DAY, DEMO_DAY])


def diagnose_as_of(
    concept_drift: tuple[str, Path], as_of: datetime, capsys: pytest.CaptureFixture[str]
) -> dict:
    """`retrain-gate diagnose --as-of` with a fresh (no) state database, as JSON."""
    url, policy = concept_drift
    assert main(["diagnose", "--policy", str(policy), "--warehouse", url, "--as-of", as_of.isoformat()]) == 0
    return json.loads(capsys.readouterr().out)


def comparable(decision: dict) -> dict:
    """What must agree between a replayed and a diagnosed decision: branch, reasons, deciding checks, findings."""
    return {
        "branch": decision["branch"],
        "reasons": decision["reasons"],
        "deciding_checks": decision["deciding_checks"],
        "findings": [(f["check"], f["subject"], f["status"], f["action"]) for f in decision["findings"]],
    }


def test_a_replayed_decision_equals_diagnose_as_of_that_date(
    concept_drift: tuple[str, Path], replayed: list[ReplayedDay], capsys: pytest.CaptureFixture[str]
) -> None:
    first = replayed[0]
    assert first.decision is not None
    diagnosed = diagnose_as_of(concept_drift, LAST_DAY, capsys)

    assert comparable(first.decision.to_dict()) == comparable(diagnosed)
    assert first.branch is Branch.TRAIN
    assert first.train_checks and first.train_worthy
    assert first.headline == diagnosed["reasons"][0]


def test_the_cooldown_is_simulated_from_the_replayed_trains(
    concept_drift: tuple[str, Path], replayed: list[ReplayedDay], capsys: pytest.CaptureFixture[str]
) -> None:
    second = replayed[1]
    diagnosed = diagnose_as_of(concept_drift, DEMO_DAY, capsys)

    # Alone, the second date trains; replayed a day after a train, it alerts under the 7-day cooldown.
    assert diagnosed["branch"] == "train"
    assert second.branch is Branch.ALERT
    assert second.headline.startswith("Cooldown: the last train decision was 1d ago (cooldown 7d)")
    assert second.train_worthy  # the train check fired all the same
    assert second.decision is not None
    assert list(second.decision.reasons[1:]) == diagnosed["reasons"]


def test_the_private_state_database_is_gone_after_the_replay() -> None:
    with private_state() as state:
        state.migrate()
        path = Path(state.engine.url.database or "")
        assert path.exists()
    assert not path.parent.exists()


def test_a_replay_opens_the_warehouse_once_and_lets_it_go_at_the_end(concept_drift: tuple[str, Path]) -> None:
    url, policy = concept_drift
    warehouse = Warehouse(url)
    connects: list[object] = []
    sa.event.listen(warehouse.engine, "connect", lambda connection, record: connects.append(connection))

    replay(
        parse_policy(yaml.safe_load(policy.read_text())),
        warehouse,
        dates_every(LAST_DAY, DEMO_DAY, timedelta(days=1)),
    )

    assert len(connects) == 1
    assert warehouse.engine.pool.checkedin() == 0  # released: the file is free for others in this process


def test_a_stopped_replay_starts_no_further_date(concept_drift: tuple[str, Path]) -> None:
    url, policy = concept_drift
    stop = threading.Event()
    stop.set()  # as SIGTERM does in `retrain-gate backtest`

    assert (
        replay(parse_policy(yaml.safe_load(policy.read_text())), Warehouse(url), [LAST_DAY], stop=stop) == []
    )


def test_dates_every_includes_the_end_and_refuses_a_step_of_zero() -> None:
    start = datetime(2024, 3, 1, tzinfo=UTC)
    assert dates_every(start, datetime(2024, 3, 15, tzinfo=UTC), timedelta(days=7)) == [
        start,
        datetime(2024, 3, 8, tzinfo=UTC),
        datetime(2024, 3, 15, tzinfo=UTC),
    ]
    with pytest.raises(ValueError, match="positive"):
        dates_every(start, start, timedelta(0))


def test_a_backtest_profiles_each_day_once_and_its_later_dates_only_merge(
    story_warehouse: Callable[[str, int], tuple[str, Path]], capsys: pytest.CaptureFixture[str]
) -> None:
    url, policy = story_warehouse("healthy", 200)
    dates = dates_every(DEMO_DAY - timedelta(days=4), DEMO_DAY, timedelta(days=1))
    warehouse = Warehouse(url)
    purposes: list[list[str]] = []
    warehouse.observers.append(lambda record: purposes[-1].append(record.purpose))

    timeline = replay(
        parse_policy(yaml.safe_load(policy.read_text())),
        warehouse,
        dates,
        progress=lambda index, total, as_of: purposes.append([]),
    )

    notes = [day.decision.notes["day_parts"] for day in timeline if day.decision is not None]
    assert notes[0]["computed"] > 0  # the first date pins the bins and profiles its windows' days
    assert [note["computed"] for note in notes[1:]] == [
        0,
        0,
        0,
        0,
    ]  # every later day was prepared in one pass
    # and its rows counted then: in the replay's snapshot of the tables, a later date verifies no day again; it
    # asks only which labels arrived by its as_of (the outcome parts: labels mature from date to date)
    verified = [[p for p in date if p.startswith("verify cached parts")] for date in purposes[1:]]
    assert all(p.startswith("verify cached parts of outcomes: labels") for date in verified for p in date)
    assert all(day.branch is Branch.SKIP for day in timeline)
    last = diagnose_as_of((url, policy), DEMO_DAY, capsys)
    assert comparable(timeline[-1].decision.to_dict())["findings"] == comparable(last)["findings"]
