"""Paging in a DAG whose gate never ran, as a task and as a callback (tests/airflow/test_notifications.py): the
task fails naming the gate task it looked for; the callback's failure is only logged and its task stays green,
which is why the paging example pages from tasks."""

from __future__ import annotations

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, get_current_context, task

from airflow_retrain_gate.notifications.smtp import RetrainGateSmtpNotifier


@task
def page() -> None:
    """Email the decision of `retrain_gate`, which decided nothing here."""
    RetrainGateSmtpNotifier(to="oncall@example.com", smtp_conn_id="never_used")(get_current_context())


with DAG(dag_id="notifier_without_gate", schedule=None):
    gate = EmptyOperator(task_id="retrain_gate")
    gate >> page()
    gate >> EmptyOperator(
        task_id="page_by_callback",
        on_success_callback=RetrainGateSmtpNotifier(to="oncall@example.com", smtp_conn_id="never_used"),
    )
