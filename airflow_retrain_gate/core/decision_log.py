"""The decision log: one row per (dag_id, run_id, task_id, map_index), written idempotently across retries."""

from __future__ import annotations

import json
import zlib
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from airflow_retrain_gate.core.decision import Decision
from airflow_retrain_gate.core.state import StateStore, decision_summary
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
class TrainsAround:
    """The as_of of the `train`s carried out nearest to an instant: the latest at or before it, the earliest after."""

    at: datetime
    last_before: datetime | None
    first_after: datetime | None

    @property
    def nearest(self) -> datetime | None:
        """The nearer of the two (a backfill of an earlier interval meets the trains of later ones)."""
        around = [instant for instant in (self.last_before, self.first_after) if instant is not None]
        return min(around, key=lambda instant: abs(instant - self.at), default=None)


@dataclass(frozen=True)
class LogQuery:
    """Which logged decisions to list or count: DAGs (None for all), one run, one policy (model), one branch,
    as_of in `[since, until)`."""

    dag_ids: Collection[str] | None = None
    run_id: str | None = None
    policy_name: str | None = None
    branch: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def matches_nothing(self) -> bool:
        """True when the DAG list is given and empty (a user who may read no DAG)."""
        return self.dag_ids is not None and not self.dag_ids


@dataclass(frozen=True)
class Review:
    """A human's answer to a decision: the branch they chose (equal to the gate's when confirming)."""

    branch: str
    by: str | None
    at: datetime
    comment: str | None


@dataclass(frozen=True)
class LogEntry:
    """One row of the decision log without the decision document: what history pages list."""

    key: RunKey
    policy_name: str
    policy_sha256: str
    branch: str
    headline: str
    """The first reason, as the on-call engineer reads it."""
    deciding_checks: tuple[str, ...]
    as_of: datetime
    started_at: datetime
    duration_s: float
    try_number: int
    review: Review | None
    updated_at: datetime

    @property
    def effective_branch(self) -> str:
        """The branch after human review: the reviewer's answer when there is one."""
        return self.review.branch if self.review else self.branch


@dataclass(frozen=True)
class LoggedDecision:
    """A row of the decision log with its full decision."""

    entry: LogEntry
    decision: Decision


class DecisionLog:
    """Reads and writes the `retrain_gate_decisions` table of a state database."""

    def __init__(self, state: StateStore) -> None:
        self.state = state
        self.table = state.tables["decisions"]

    def record(self, key: RunKey, decision: Decision, try_number: int = 1) -> None:
        """Insert or replace the row of `key` (a retry overwrites its own row and any review of it)."""
        try:
            with self.state.writing() as connection:
                self.write(connection, key, decision, try_number)
        except sa.exc.IntegrityError:
            # A concurrent attempt of the same task instance inserted first: ours replaces it.
            with self.state.writing() as connection:
                self.write(connection, key, decision, try_number)
        except sa.exc.SQLAlchemyError as error:
            raise WarehouseError(f"decision log: cannot write the decision: {short_error(error)}") from None

    def write(self, connection: Connection, key: RunKey, decision: Decision, try_number: int) -> None:
        """Insert or replace the row of `key` inside the caller's transaction."""
        now = datetime.now(UTC)
        document = decision.to_dict()
        values = {
            "policy_name": decision.policy_name,
            "policy_sha256": decision.policy_sha256,
            "branch": decision.branch.value,
            "as_of": decision.as_of,
            "started_at": decision.started_at,
            "duration_s": decision.duration_s,
            "decision_json": json.dumps(document),
            "try_number": try_number,
            **decision_summary(document),
            "review_branch": None,
            "review_by": None,
            "review_at": None,
            "review_comment": None,
            "updated_at": now,
        }
        where = self._where(key)
        if connection.execute(sa.select(self.table.c.branch).where(*where)).first() is not None:
            connection.execute(self.table.update().where(*where).values(**values))
        else:
            keys = {
                "dag_id": key.dag_id,
                "run_id": key.run_id,
                "task_id": key.task_id,
                "map_index": key.map_index,
            }
            connection.execute(self.table.insert().values(**keys, created_at=now, **values))

    @contextmanager
    def serialised(self, name: str) -> Iterator[Connection]:
        """A write transaction that runs alone among those serialised on `name` (a PostgreSQL advisory lock;
        SQLite and DuckDB state files admit one writer at a time anyway)."""
        try:
            with self.state.writing() as connection:
                if connection.dialect.name == "postgresql":
                    lock = zlib.crc32(f"retrain_gate:{name}".encode())
                    connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock})
                yield connection
        except sa.exc.SQLAlchemyError as error:
            raise WarehouseError(f"decision log: {short_error(error)}") from None

    def record_review(self, key: RunKey, branch: str, reviewer: str | None, comment: str | None) -> bool:
        """Store a human's confirmation or override of a decision; False if the decision is not logged."""
        where = self._where(key)
        now = datetime.now(UTC)
        review = {"review_branch": branch, "review_by": reviewer, "review_comment": comment, "review_at": now}
        try:
            with self.state.writing() as connection:
                if connection.execute(sa.select(self.table.c.branch).where(*where)).first() is None:
                    return False
                connection.execute(self.table.update().where(*where).values(**review, updated_at=now))
        except sa.exc.SQLAlchemyError as error:
            raise WarehouseError(f"decision log: cannot write the review: {short_error(error)}") from None
        return True

    def get(self, key: RunKey) -> LoggedDecision | None:
        """The logged decision of one task instance."""
        query = sa.select(*self._entry_columns(), self.table.c.decision_json).where(*self._where(key))
        with self.state.reading() as connection:
            row = connection.execute(query).first()
        if row is None:
            return None
        return LoggedDecision(_entry(row), Decision.from_dict(json.loads(row.decision_json)))

    def history(self, query: LogQuery = LogQuery(), *, limit: int = 100, offset: int = 0) -> list[LogEntry]:
        """Logged decisions matching `query`, newest `as_of` first."""
        if query.matches_nothing():
            return []
        select = (
            sa.select(*self._entry_columns())
            .where(*self._conditions(query))
            .order_by(*self._newest_first())
            .limit(limit)
            .offset(offset)
        )
        with self.state.reading() as connection:
            return [_entry(row) for row in connection.execute(select)]

    def count(self, query: LogQuery = LogQuery()) -> int:
        """How many decisions `history` would list for `query` with no limit."""
        if query.matches_nothing():
            return 0
        select = sa.select(sa.func.count()).select_from(self.table).where(*self._conditions(query))
        with self.state.reading() as connection:
            return int(connection.execute(select).scalar() or 0)

    def decisions(self, query: LogQuery, *, limit: int = 100) -> list[LoggedDecision]:
        """Logged decisions matching `query` with their full documents, newest `as_of` first (for trends)."""
        if query.matches_nothing():
            return []
        select = (
            sa.select(*self._entry_columns(), self.table.c.decision_json)
            .where(*self._conditions(query))
            .order_by(*self._newest_first())
            .limit(limit)
        )
        with self.state.reading() as connection:
            rows = connection.execute(select).all()
        return [
            LoggedDecision(_entry(row), Decision.from_dict(json.loads(row.decision_json))) for row in rows
        ]

    def logged_dag_ids(self) -> list[str]:
        """The DAG ids that have decisions in the log, sorted."""
        query = sa.select(self.table.c.dag_id).distinct().order_by(self.table.c.dag_id)
        with self.state.reading() as connection:
            return list(connection.execute(query).scalars())

    def logged_policy_names(self, dag_ids: Collection[str] | None = None) -> list[str]:
        """The policy (model) names that have decisions in the log, of the given DAGs (None: all), sorted."""
        if dag_ids is not None and not dag_ids:
            return []
        query = sa.select(self.table.c.policy_name).distinct().order_by(self.table.c.policy_name)
        if dag_ids is not None:
            query = query.where(self.table.c.dag_id.in_(sorted(dag_ids)))
        with self.state.reading() as connection:
            return list(connection.execute(query).scalars())

    def last_train_before(
        self, policy_name: str, before: datetime, *, excluding: RunKey | None = None
    ) -> datetime | None:
        """as_of of the latest `train` carried out under `policy_name` at or before `before`, by any DAG or task.

        A reviewer's answer replaces the gate's branch (an override to skip does not count, one to train does).
        `excluding` leaves out the asking task instance's own row, so that a retry does not cool itself down.
        """
        return self.trains_around(policy_name, before, excluding=excluding).last_before

    def trains_around(
        self, policy_name: str, at: datetime, *, excluding: RunKey | None = None
    ) -> TrainsAround:
        """The `train`s carried out under `policy_name` nearest to `at` on either side, in one query; `excluding`
        as in `last_train_before`."""
        columns = self.table.c
        query = sa.select(
            sa.func.max(sa.case((columns.as_of <= at, columns.as_of))),
            sa.func.min(sa.case((columns.as_of > at, columns.as_of))),
        ).where(*self._trains(policy_name))
        if excluding is not None:
            query = query.where(self._other_than(excluding))
        try:
            with self.state.reading() as connection:
                before, after = connection.execute(query).one()
        except sa.exc.SQLAlchemyError as error:
            raise WarehouseError(f"decision log: cannot read past decisions: {short_error(error)}") from None
        return TrainsAround(
            at, None if before is None else to_utc(before), None if after is None else to_utc(after)
        )

    def other_train_within(
        self, connection: Connection, key: RunKey, policy_name: str, start: datetime, end: datetime
    ) -> RunKey | None:
        """Another task instance than `key` whose `train` under `policy_name` has its as_of in `(start, end)`."""
        columns = self.table.c
        query = (
            sa.select(columns.dag_id, columns.run_id, columns.task_id, columns.map_index)
            .where(*self._trains(policy_name), columns.as_of > start, columns.as_of < end)
            .where(self._other_than(key))
            .order_by(columns.created_at)
            .limit(1)
        )
        row = connection.execute(query).first()
        return None if row is None else RunKey(row.dag_id, row.run_id, row.task_id, row.map_index)

    def _other_than(self, key: RunKey) -> sa.ColumnElement[bool]:
        """Every row but that of `key`."""
        return sa.not_(sa.and_(*self._where(key)))

    def _trains(self, policy_name: str) -> list[sa.ColumnElement[bool]]:
        """Rows of `policy_name` whose branch, after any review, is train."""
        columns = self.table.c
        return [
            columns.policy_name == policy_name,
            sa.func.coalesce(columns.review_branch, columns.branch) == "train",
        ]

    def _entry_columns(self) -> list[sa.Column[Any]]:
        return [column for column in self.table.c if column.name not in ("decision_json", "created_at")]

    def _newest_first(self) -> list[sa.ColumnElement[Any]]:
        columns = self.table.c
        return [
            columns.as_of.desc(),
            columns.updated_at.desc(),
            columns.dag_id,
            columns.run_id,
            columns.task_id,
            columns.map_index,
        ]

    def _conditions(self, query: LogQuery) -> list[sa.ColumnElement[bool]]:
        columns = self.table.c
        conditions: list[sa.ColumnElement[bool]] = []
        if query.dag_ids is not None:
            conditions.append(columns.dag_id.in_(sorted(query.dag_ids)))
        if query.run_id is not None:
            conditions.append(columns.run_id == query.run_id)
        if query.policy_name is not None:
            conditions.append(columns.policy_name == query.policy_name)
        if query.branch:
            conditions.append(columns.branch == query.branch)
        if query.since:
            conditions.append(columns.as_of >= query.since)
        if query.until:
            conditions.append(columns.as_of < query.until)
        return conditions

    def _where(self, key: RunKey) -> list[sa.ColumnElement[bool]]:
        return [
            self.table.c.dag_id == key.dag_id,
            self.table.c.run_id == key.run_id,
            self.table.c.task_id == key.task_id,
            self.table.c.map_index == key.map_index,
        ]


def _entry(row: Any) -> LogEntry:
    review = None
    if row.review_branch is not None:
        review = Review(row.review_branch, row.review_by, to_utc(row.review_at), row.review_comment)
    return LogEntry(
        key=RunKey(row.dag_id, row.run_id, row.task_id, row.map_index),
        policy_name=row.policy_name,
        policy_sha256=row.policy_sha256,
        branch=row.branch,
        headline=row.headline or "",
        deciding_checks=tuple(filter(None, (row.deciding_checks or "").split(","))),
        as_of=to_utc(row.as_of),
        started_at=to_utc(row.started_at),
        duration_s=row.duration_s,
        try_number=row.try_number,
        review=review,
        updated_at=to_utc(row.updated_at),
    )
