"""What Airflow's metadata database knows about gate task instances: rendered map indexes and task states.

The decision log knows only the decisions that were written; a gate that failed before deciding, or a mapped
gate's `map_index_template`, is known to Airflow alone.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import sqlalchemy as sa
from airflow.models.taskinstance import TaskInstance
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import QueryableAttribute, Session

from airflow_retrain_gate.core import RunKey
from airflow_retrain_gate.operators.gate import RetrainGateOperator

FAILED_STATES = frozenset({"failed", "upstream_failed"})


def _rendered_map_index() -> QueryableAttribute[str | None]:
    """Airflow's `TaskInstance.rendered_map_index` as SQL: the rendered `map_index_template`, else the number.

    Taken from the mapper: Airflow redefines the hybrid's SQL half under the same name, so type checkers see a
    plain function where SQLAlchemy builds the expression."""
    hybrid = sa.inspect(TaskInstance).all_orm_descriptors["rendered_map_index"]
    if not isinstance(hybrid, hybrid_property):
        raise TypeError(
            f"TaskInstance.rendered_map_index is a {type(hybrid).__name__}, not a hybrid property"
        )
    return hybrid.__get__(None, TaskInstance)


@dataclass(frozen=True)
class GateTask:
    """A gate task instance of a DAG run as Airflow records it."""

    key: RunKey
    state: str | None
    try_number: int
    rendered_map_index: str | None

    @property
    def failed(self) -> bool:
        """Whether the task failed (or could not run because an upstream task failed)."""
        return self.state in FAILED_STATES


def rendered_map_indexes(session: Session, keys: Collection[RunKey]) -> dict[RunKey, str]:
    """The map index Airflow shows for each mapped task instance among `keys` that it knows: the rendered
    `map_index_template`, else the number."""
    mapped = [key for key in keys if key.map_index >= 0]
    if not mapped:
        return {}
    rows = session.execute(
        sa.select(
            TaskInstance.dag_id,
            TaskInstance.run_id,
            TaskInstance.task_id,
            TaskInstance.map_index,
            _rendered_map_index(),
        ).where(
            sa.or_(
                *(
                    sa.and_(
                        TaskInstance.dag_id == key.dag_id,
                        TaskInstance.run_id == key.run_id,
                        TaskInstance.task_id == key.task_id,
                        TaskInstance.map_index == key.map_index,
                    )
                    for key in mapped
                )
            )
        )
    )
    # Every key asked about is mapped, so Airflow renders a label for each: the template's, else the number.
    return {
        RunKey(dag_id, run_id, task_id, map_index): label
        for dag_id, run_id, task_id, map_index, label in rows
        if label is not None
    }


def gate_tasks(session: Session, dag_id: str, run_id: str) -> list[GateTask]:
    """The task instances of `RetrainGateOperator` tasks in one DAG run, by task id and map index."""
    rows = session.execute(
        sa.select(
            TaskInstance.task_id,
            TaskInstance.map_index,
            TaskInstance.state,
            TaskInstance.try_number,
            _rendered_map_index(),
        )
        .where(
            TaskInstance.dag_id == dag_id,
            TaskInstance.run_id == run_id,
            TaskInstance.operator == RetrainGateOperator.__name__,
        )
        .order_by(TaskInstance.task_id, TaskInstance.map_index)
    )
    return [
        GateTask(
            RunKey(dag_id, run_id, task_id, map_index),
            getattr(state, "value", state),
            try_number or 0,
            rendered,
        )
        for task_id, map_index, state, try_number, rendered in rows
    ]
