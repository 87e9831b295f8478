"""Page on-call on alert and fix_features: the gate's decision by email and Slack, through Airflow's notifiers.

The gate is mapped over three models (each one story's schema of the demo warehouse): loans-latam should
alert, loans-apac fix its features, loans-eu skip. The tasks ``alert`` and ``fix_features`` are the pages:
each sends the decision of the model of its map index (branch, policy, headline, deciding findings, link to
the decision page) by ``RetrainGateSmtpNotifier`` and ``RetrainGateSlackNotifier``; ``train`` and skip do not
page.

Paging is a task, not an ``on_success_callback``: Airflow 3.3 logs and swallows a callback's exception, so
a page that could not be sent would leave a green task and nobody paged. As a task it fails, retries, and
shows red in the Grid.

Set the param ``oncall_email`` (SMTP connection ``retrain_gate_oncall_smtp``) and/or ``oncall_slack_channel``
(Slack API connection ``retrain_gate_oncall_slack``, extra ``slack``) to page; both empty, as in the demo, the
paging tasks are skipped and say so.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import DAG, BaseNotifier, Param, get_current_context, task
from airflow.sdk.exceptions import AirflowSkipException

from airflow_retrain_gate.demo.catalog import DEMO_AS_OF
from airflow_retrain_gate.demo.example_tasks import ingest, respond
from airflow_retrain_gate.demo.provision import DEMO_STATE_CONN_ID, DEMO_WAREHOUSE_CONN_ID
from airflow_retrain_gate.demo.stories import story_policy
from airflow_retrain_gate.notifications.smtp import RetrainGateSmtpNotifier
from airflow_retrain_gate.operators.gate import RetrainGateOperator

ONCALL_SMTP_CONN_ID = "retrain_gate_oncall_smtp"
ONCALL_SLACK_CONN_ID = "retrain_gate_oncall_slack"
MODELS = {"loans-latam": "transient_campaign", "loans-apac": "dead_signal", "loans-eu": "healthy"}
"""Model name -> the demo warehouse schema holding its tables."""


@task(retries=2, retry_delay=timedelta(minutes=1), map_index_template="{{ task.op_kwargs['model'] }}")
def page(model: str) -> list[str]:
    """Send the gate's decision for `model` (this map index) to the params' on-call address and channel."""
    context = get_current_context()
    params = context["params"]
    # New notifiers per page: a notifier renders its templated fields in place, once.
    notifiers: list[BaseNotifier] = []
    if params["oncall_email"]:
        notifiers.append(RetrainGateSmtpNotifier(to=params["oncall_email"], smtp_conn_id=ONCALL_SMTP_CONN_ID))
    if params["oncall_slack_channel"]:
        from airflow_retrain_gate.notifications.slack import RetrainGateSlackNotifier  # extra: slack

        notifiers.append(
            RetrainGateSlackNotifier(
                channel=params["oncall_slack_channel"], slack_conn_id=ONCALL_SLACK_CONN_ID
            )
        )
    if not notifiers:
        raise AirflowSkipException(
            f"Not paging about {model}: params oncall_email and oncall_slack_channel are empty."
        )
    for notifier in notifiers:
        notifier(context)
    return [type(notifier).__name__ for notifier in notifiers]


with DAG(
    dag_id="retrain_gate_paging",
    description="Page on-call by email when a model's gate says alert or fix_features",
    doc_md=__doc__,
    schedule=None,
    params={
        "as_of": DEMO_AS_OF.isoformat(),
        "oncall_email": Param("", type="string", description="Address to email; empty: no email"),
        "oncall_slack_channel": Param("", type="string", description="Slack channel to post to; empty: none"),
    },
    tags=["retrain-gate", "example", "notifications"],
):
    gate = RetrainGateOperator.partial(
        task_id="retrain_gate",
        warehouse_conn_id=DEMO_WAREHOUSE_CONN_ID,
        state_conn_id=DEMO_STATE_CONN_ID,
        as_of="{{ params.as_of }}",
        map_index_template="{{ task.policy['name'] }}",
    ).expand(
        policy=[{**story_policy(schema, schema=schema), "name": model} for model, schema in MODELS.items()]
    )
    ingest(list(MODELS.values())) >> gate
    for branch in ("alert", "fix_features"):
        gate >> page.override(task_id=branch).expand(model=list(MODELS))
    gate >> respond.override(task_id="train", map_index_template="{{ task.op_kwargs['model'] }}").partial(
        branch="train"
    ).expand(model=list(MODELS))
