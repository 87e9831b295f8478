"""The decision a notifier reports, read from the gate's XCom through the Airflow context of the task it runs in."""

from __future__ import annotations

from airflow.sdk import Context
from airflow.sdk.exceptions import AirflowException

from airflow_retrain_gate.core import Decision
from airflow_retrain_gate.notifications.message import DecisionMessage
from airflow_retrain_gate.operators.gate import XCOM_DECISION_KEY
from airflow_retrain_gate.operators.links import decision_url


def decision_message(context: Context, gate_task_id: str) -> DecisionMessage:
    """The message about the decision of gate task `gate_task_id` in this DAG run, at this task's map index.

    The task runs downstream of the gate (the notifier called in it, or as its callback); a mapped task reads
    the gate instance of its own map index (map the gate and the paging tasks over the same list).
    """
    ti = context["ti"]
    data = ti.xcom_pull(task_ids=gate_task_id, key=XCOM_DECISION_KEY, map_indexes=ti.map_index)
    if data is None:
        raise AirflowException(
            f"No retrain gate decision in XCom {XCOM_DECISION_KEY!r} of task {gate_task_id!r} "
            f"(map index {ti.map_index}) of run {ti.run_id!r}: is the notifier's gate_task_id the gate, and "
            "does the gate run before it?"
        )
    map_index = ti.map_index if ti.map_index is not None else -1  # None: not mapped, as Airflow reads it
    gate_task = gate_task_id if map_index < 0 else f"{gate_task_id}[{map_index}]"
    return DecisionMessage(
        decision=Decision.from_dict(data),
        decision_url=decision_url(ti.dag_id, ti.run_id, gate_task_id, map_index),
        dag_id=ti.dag_id,
        run_id=ti.run_id,
        gate_task=gate_task,
    )
