"""RetrainGateSlackNotifier: posts a gate's decision to a Slack channel through the Slack provider's notifier."""

from __future__ import annotations

from typing import Any

from airflow.providers.slack.notifications.slack import SlackNotifier
from airflow.sdk import Context

from airflow_retrain_gate.notifications.context import decision_message
from airflow_retrain_gate.notifications.message import slack_payload


class RetrainGateSlackNotifier(SlackNotifier):
    """Posts the decision of the run's gate to Slack (chat.postMessage): header, headline, fields, deciding
    findings and a button to the decision page.

    Needs ``pip install airflow-retrain-gate[slack]``. The blocks come from ``message.slack_payload``; text from
    the warehouse goes into ``plain_text`` objects, so it cannot format, link or mention.

    :param channel: channel to post to (templated).
    :param gate_task_id: task id of the gate whose decision is posted (templated).
    :param slack_conn_id: Slack API connection (a bot token) (templated).
    :param kwargs: the Slack notifier's other arguments (``username``, ``icon_url``, ``base_url`` ...).
    """

    template_fields = ("channel", "username", "slack_conn_id", "gate_task_id")

    def __init__(
        self,
        *,
        channel: str,
        gate_task_id: str = "retrain_gate",
        slack_conn_id: str = "slack_api_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(
            channel=channel, slack_conn_id=slack_conn_id, unfurl_links=False, unfurl_media=False, **kwargs
        )
        self.gate_task_id = gate_task_id

    def notify(self, context: Context) -> None:
        """Read the decision from the gate's XCom and post it."""
        payload = slack_payload(decision_message(context, self.gate_task_id))
        self.text = payload["text"]
        self.blocks = payload["blocks"]
        super().notify(context)
