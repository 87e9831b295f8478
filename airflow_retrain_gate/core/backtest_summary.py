"""What a replayed timeline says against a fixed retraining schedule: a pure function of the timeline.

A date is **train-worthy** when some check whose action is train fired on it (its finding failed), whether or
not the branch became train: precedence, persistence, the cooldown or a veto may have held it back. An
**episode** is a run of consecutive replayed dates that are all train-worthy; its first date is when the model
started to need a retrain, as far as the replay can tell.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from airflow_retrain_gate.core.backtest import ReplayedDay, dates_every
from airflow_retrain_gate.core.findings import Branch

DAY = timedelta(days=1)


def _days_between(start: datetime, end: datetime | None) -> float | None:
    return None if end is None else (end - start) / DAY


@dataclass(frozen=True)
class TrainWorthyEpisode:
    """A run of train-worthy dates, and when the policy and the schedule first retrained from its start."""

    first_day: datetime
    last_day: datetime
    policy_train: datetime | None
    """The policy's first train within the episode (None: it never trained then)."""
    schedule_retrain: datetime | None
    """The schedule's first retrain at or after the episode's first date (None: none before the end)."""

    @property
    def days_to_policy_train(self) -> float | None:
        """Days from the first train-worthy date to the policy's train."""
        return _days_between(self.first_day, self.policy_train)

    @property
    def days_to_schedule_retrain(self) -> float | None:
        """Days from the first train-worthy date to the schedule's next retrain."""
        return _days_between(self.first_day, self.schedule_retrain)

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "first_day": self.first_day.isoformat(),
            "last_day": self.last_day.isoformat(),
            "policy_train": self.policy_train.isoformat() if self.policy_train else None,
            "days_to_policy_train": self.days_to_policy_train,
            "schedule_retrain": self.schedule_retrain.isoformat() if self.schedule_retrain else None,
            "days_to_schedule_retrain": self.days_to_schedule_retrain,
        }


@dataclass(frozen=True)
class ScheduleComparison:
    """The policy's replayed decisions against retraining every `schedule` from the first replayed date."""

    schedule: timedelta
    branch_days: dict[str, int]
    """How many replayed dates took each branch."""
    policy_trains: tuple[datetime, ...]
    schedule_retrains: tuple[datetime, ...]
    schedule_retrains_on_broken_inputs: tuple[datetime, ...]
    """Scheduled retrains on dates where the decision in force (the latest replayed at or before) was
    fix_features: the schedule retrained on inputs the policy called broken."""
    alerts_raised: int
    """Runs of consecutive alert dates: each is one alert a person must look at."""
    undiagnosed: tuple[datetime, ...]
    """Dates where some check could not diagnose (its branch came from `on_error`): a policy is judged by the others."""
    episodes: tuple[TrainWorthyEpisode, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "schedule_days": self.schedule / DAY,
            "branch_days": self.branch_days,
            "policy_trains": [when.isoformat() for when in self.policy_trains],
            "schedule_retrains": [when.isoformat() for when in self.schedule_retrains],
            "schedule_retrains_on_broken_inputs": [
                when.isoformat() for when in self.schedule_retrains_on_broken_inputs
            ],
            "alerts_raised": self.alerts_raised,
            "undiagnosed_dates": [when.isoformat() for when in self.undiagnosed],
            "train_worthy_episodes": [episode.to_dict() for episode in self.episodes],
        }


def decision_in_force(timeline: Sequence[ReplayedDay], when: datetime) -> ReplayedDay | None:
    """The latest replayed date at or before `when` (None when `when` precedes the timeline)."""
    earlier = [day for day in timeline if day.as_of <= when]
    return earlier[-1] if earlier else None


def train_worthy_episodes(timeline: Sequence[ReplayedDay]) -> list[list[ReplayedDay]]:
    """Runs of consecutive train-worthy replayed dates, in order."""
    episodes: list[list[ReplayedDay]] = []
    previous_worthy = False
    for day in timeline:
        if day.train_worthy:
            if previous_worthy:
                episodes[-1].append(day)
            else:
                episodes.append([day])
        previous_worthy = day.train_worthy
    return episodes


def compare_with_schedule(
    timeline: Sequence[ReplayedDay], schedule: timedelta, end: datetime | None = None
) -> ScheduleComparison:
    """Compare the replayed decisions (in date order) with a retrain every `schedule` from the first replayed date
    up to `end` (default: the last replayed date)."""
    if not timeline:
        raise ValueError("the timeline is empty: nothing was replayed")
    end = end or timeline[-1].as_of
    retrains = dates_every(timeline[0].as_of, end, schedule)
    on_broken_inputs = [
        when
        for when in retrains
        if (in_force := decision_in_force(timeline, when)) and in_force.branch is Branch.FIX_FEATURES
    ]
    alerts_raised = sum(
        day.branch is Branch.ALERT and (index == 0 or timeline[index - 1].branch is not Branch.ALERT)
        for index, day in enumerate(timeline)
    )
    episodes = [
        TrainWorthyEpisode(
            first_day=run[0].as_of,
            last_day=run[-1].as_of,
            policy_train=next((day.as_of for day in run if day.branch is Branch.TRAIN), None),
            schedule_retrain=next((when for when in retrains if when >= run[0].as_of), None),
        )
        for run in train_worthy_episodes(timeline)
    ]
    return ScheduleComparison(
        schedule=schedule,
        branch_days={branch.value: sum(day.branch is branch for day in timeline) for branch in Branch},
        policy_trains=tuple(day.as_of for day in timeline if day.branch is Branch.TRAIN),
        schedule_retrains=tuple(retrains),
        schedule_retrains_on_broken_inputs=tuple(on_broken_inputs),
        alerts_raised=alerts_raised,
        undiagnosed=tuple(day.as_of for day in timeline if not day.diagnosed),
        episodes=tuple(episodes),
    )
