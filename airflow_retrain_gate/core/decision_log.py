"""The decision log: one row per (dag_id, run_id, task_id, map_index), written idempotently across retries."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa

from airflow_retrain_gate.core.decision import Decision
from airflow_retrain_gate.core.state import StateStore
from airflow_retrain_gate.core.timeframes import to_utc
from airflow_retrain_gate.core.warehouse import WarehouseError, short_error


@dataclass(frozen=True)
class RunKey:
    """Which task instance a decision belongs to; the CLI uses dag_id 'cli'."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int = -1


@dataclass(frozen=True)
class LoggedDecision:
    """A row of the decision log."""

    key: RunKey
    policy_name: str
    branch: str
    as_of: datetime
    duration_s: float
    decision: dict[str, Any]
    try_number: int
    review_branch: str | None
    review_by: str | None
    review_at: datetime | None
    review_comment: str | None


class DecisionLog:
    """Reads and writes the `retrain_gate_decisions` table of a state database."""

    def __init__(self, state: StateStore) -> None:
        self.state = state
        self.table = state.tables["decisions"]

    def record(self, key: RunKey, decision: Decision, try_number: int = 1) -> None:
        """Insert or replace the row of `key` (a retry overwrites its own row, never adds one)."""
        now = datetime.now(timezone.utc)
        values = {
            "policy_name": decision.policy_name,
            "policy_sha256": decision.policy_sha256,
            "branch": decision.branch.value,
            "as_of": decision.as_of,
            "started_at": decision.started_at,
            "duration_s": decision.duration_s,
            "decision_json": decision.to_json(indent=None),
            "try_number": try_number,
            "updated_at": now,
        }
        where = self._where(key)
        try:
            with self.state.writing() as connection:
                if connection.execute(sa.select(self.table.c.branch).where(*where)).first() is not None:
                    connection.execute(self.table.update().where(*where).values(**values))
                else:
                    connection.execute(
                        self.table.insert().values(
                            dag_id=key.dag_id, run_id=key.run_id, task_id=key.task_id, map_index=key.map_index, created_at=now, **values
                        )
                    )
        except sa.exc.IntegrityError:
            # A concurrent attempt of the same task instance inserted first: ours replaces it.
            with self.state.writing() as connection:
                connection.execute(self.table.update().where(*where).values(**values))
        except sa.exc.SQLAlchemyError as error:
            raise WarehouseError(f"decision log: cannot write the decision: {short_error(error)}") from None

    def record_review(self, key: RunKey, branch: str, reviewer: str | None, comment: str | None) -> bool:
        """Store a human's confirmation or override of a decision; False if the decision is not logged."""
        where = self._where(key)
        now = datetime.now(timezone.utc)
        with self.state.writing() as connection:
            if connection.execute(sa.select(self.table.c.branch).where(*where)).first() is None:
                return False
            connection.execute(
                self.table.update()
                .where(*where)
                .values(review_branch=branch, review_by=reviewer, review_comment=comment, review_at=now, updated_at=now)
            )
        return True

    def get(self, key: RunKey) -> LoggedDecision | None:
        """The logged decision of one task instance."""
        with self.state.reading() as connection:
            row = connection.execute(sa.select(self.table).where(*self._where(key))).first()
        return None if row is None else _logged(row)

    def history(
        self,
        *,
        dag_ids: list[str] | None = None,
        branch: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[LoggedDecision]:
        """Logged decisions, newest first, filtered by DAGs, branch and as_of range."""
        query = sa.select(self.table)
        if dag_ids is not None:
            query = query.where(self.table.c.dag_id.in_(dag_ids))
        if branch:
            query = query.where(self.table.c.branch == branch)
        if since:
            query = query.where(self.table.c.as_of >= since)
        if until:
            query = query.where(self.table.c.as_of < until)
        query = query.order_by(self.table.c.as_of.desc(), self.table.c.updated_at.desc()).limit(limit).offset(offset)
        with self.state.reading() as connection:
            return [_logged(row) for row in connection.execute(query)]

    def last_train_before(self, policy_name: str, dag_id: str | None, task_id: str | None, before: datetime) -> datetime | None:
        """as_of of the latest `train` decision (after any human review) of a gate before `before`."""
        effective = sa.func.coalesce(self.table.c.review_branch, self.table.c.branch)
        query = sa.select(sa.func.max(self.table.c.as_of)).where(
            self.table.c.policy_name == policy_name, effective == "train", self.table.c.as_of < before
        )
        if dag_id is not None:
            query = query.where(self.table.c.dag_id == dag_id)
        if task_id is not None:
            query = query.where(self.table.c.task_id == task_id)
        with self.state.reading() as connection:
            value = connection.execute(query).scalar()
        return None if value is None else to_utc(value)

    def _where(self, key: RunKey) -> list[sa.ColumnElement[bool]]:
        return [
            self.table.c.dag_id == key.dag_id,
            self.table.c.run_id == key.run_id,
            self.table.c.task_id == key.task_id,
            self.table.c.map_index == key.map_index,
        ]


def _logged(row: Any) -> LoggedDecision:
    return LoggedDecision(
        key=RunKey(row.dag_id, row.run_id, row.task_id, row.map_index),
        policy_name=row.policy_name,
        branch=row.branch,
        as_of=to_utc(row.as_of),
        duration_s=row.duration_s,
        decision=json.loads(row.decision_json),
        try_number=row.try_number,
        review_branch=row.review_branch,
        review_by=row.review_by,
        review_at=None if row.review_at is None else to_utc(row.review_at),
        review_comment=row.review_comment,
    )
