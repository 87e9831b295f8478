"""RetrainGateSmtpNotifier: emails a gate's decision to on-call through the SMTP provider's notifier."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from airflow.providers.smtp.notifications.smtp import SmtpNotifier
from airflow.sdk import BaseNotifier, Context

from airflow_retrain_gate.notifications.context import decision_message
from airflow_retrain_gate.notifications.message import email_html, email_subject


class RetrainGateSmtpNotifier(BaseNotifier):
    """Sends the decision of the run's gate as an HTML email: branch, policy, headline, deciding findings, link.

    Use it as a callback (``on_success_callback=RetrainGateSmtpNotifier(to=...)``) or call it in a task
    (``RetrainGateSmtpNotifier(to=...)(context)``). The subject and body are built from the decision, never
    rendered as Jinja: data from the warehouse cannot reach the template engine. The email is sent by the SMTP
    provider's ``SmtpNotifier``, built once the subject and body are known, so they are not among its templates.

    :param to: recipient address(es) (templated).
    :param gate_task_id: task id of the gate whose decision is sent (templated).
    :param smtp_conn_id: SMTP connection; default ``[email] email_conn_id`` (templated).
    :param from_email: sender; default the connection's ``from_email`` extra (templated).
    :param smtp_options: the SMTP notifier's other arguments (``cc``, ``bcc``, ``custom_headers`` ...) (templated).
    """

    template_fields: Sequence[str] = ("to", "gate_task_id", "smtp_conn_id", "from_email", "smtp_options")

    def __init__(
        self,
        *,
        to: str | Iterable[str],
        gate_task_id: str = "retrain_gate",
        smtp_conn_id: str | None = None,
        from_email: str | None = None,
        **smtp_options: Any,
    ) -> None:
        super().__init__()
        self.to = to
        self.gate_task_id = gate_task_id
        self.smtp_conn_id = smtp_conn_id
        self.from_email = from_email
        self.smtp_options = smtp_options

    def notify(self, context: Context) -> None:
        """Read the decision from the gate's XCom and send it."""
        message = decision_message(context, self.gate_task_id)
        email = SmtpNotifier(
            to=self.to,
            from_email=self.from_email,
            smtp_conn_id=self.smtp_conn_id,
            subject=email_subject(message),
            html_content=email_html(message),
            **self.smtp_options,
        )
        email.notify(context)
