"""A paging task in a DAG whose gate never ran: the notifier fails the task, naming the gate task it looked for
(tests/airflow/test_notifications.py)."""

from __future__ import annotations

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, get_current_context, task

from airflow_retrain_gate.notifications.smtp import RetrainGateSmtpNotifier


@task
def page() -> None:
    """Email the decision of `retrain_gate`, which was skipped here."""
    RetrainGateSmtpNotifier(to="oncall@example.com", smtp_conn_id="never_used")(get_current_context())


with DAG(dag_id="notifier_without_gate", schedule=None):
    EmptyOperator(task_id="retrain_gate") >> page()
