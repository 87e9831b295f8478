"""On-call notifications under real Airflow: the paging example DAG emails a real SMTP server (aiosmtpd on
127.0.0.1) and posts to a local stand-in of Slack's Web API, only for the models whose gate said alert or
fix_features, with the branch, policy, headline, deciding findings and the link to the decision page."""

from __future__ import annotations

import email
import email.policy
import html
import json
import os
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pytest

from airflow_retrain_gate.core import Decision
from airflow_retrain_gate.demo.airflow_demo import DagRunSummary, summarize
from airflow_retrain_gate.demo.catalog import DEMO_AS_OF
from airflow_retrain_gate.notifications.message import (
    DecisionMessage,
    email_html,
    email_subject,
    slack_payload,
)

if TYPE_CHECKING:
    from airflow.sdk import DAG

pytestmark = pytest.mark.airflow

ONCALL = "oncall@example.com"
SENDER = "retrain-gate@example.com"
CHANNEL = "#ml-oncall"
BASE_URL = "http://airflow.example.com"


@dataclass(frozen=True)
class PagingRun:
    """One run of the paging example with both channels configured, and what each channel received."""

    run: DagRunSummary
    emails: list[EmailMessage]
    slack_posts: list[dict[str, Any]]

    def decision(self, model: str) -> dict[str, Any]:
        return next(d for d in self.run.decisions.values() if d["policy_name"] == model)

    def link(self, map_index: int) -> str:
        run_id = quote(self.run.run_id, safe="")
        return f"{BASE_URL}/retrain-gate/decision/retrain_gate_paging/{run_id}/retrain_gate?map_index={map_index}"


@pytest.fixture(scope="module")
def paging_run(dags: dict[str, DAG], demo_warehouse: str) -> Iterator[PagingRun]:
    """Start an SMTP server and a Slack API stand-in, point the paging DAG's connections at them, run it once."""
    from aiosmtpd.controller import Controller

    emails: list[EmailMessage] = []
    slack_posts: list[dict[str, Any]] = []
    smtp = Controller(_Mailbox(emails), hostname="127.0.0.1", port=_free_port())
    slack = ThreadingHTTPServer(("127.0.0.1", 0), _slack_api(slack_posts))
    environment = {
        "AIRFLOW_CONN_RETRAIN_GATE_ONCALL_SMTP": json.dumps(
            {
                "conn_type": "smtp",
                "host": "127.0.0.1",
                "port": smtp.port,
                "extra": {"from_email": SENDER, "disable_ssl": True, "disable_tls": True, "retry_limit": 0},
            }
        ),
        "AIRFLOW_CONN_RETRAIN_GATE_ONCALL_SLACK": json.dumps(
            {
                "conn_type": "slack",
                "password": "xoxb-test-token",
                "extra": {"base_url": f"http://127.0.0.1:{slack.server_port}/api/"},
            }
        ),
        "AIRFLOW__API__BASE_URL": BASE_URL,
    }
    smtp.start()
    threading.Thread(target=slack.serve_forever, daemon=True).start()
    os.environ.update(environment)
    try:
        dag_run = _own_copy(dags["retrain_gate_paging"]).test(
            logical_date=DEMO_AS_OF, run_conf={"oncall_email": ONCALL, "oncall_slack_channel": CHANNEL}
        )
        yield PagingRun(summarize(dag_run), emails, slack_posts)
    finally:
        for name in environment:
            os.environ.pop(name)
        smtp.stop()
        slack.shutdown()
        slack.server_close()


def test_on_call_gets_one_email_per_alert_and_fix_features_decision(paging_run: PagingRun) -> None:
    run = paging_run.run

    assert run.state == "success"
    assert {d["policy_name"]: d["branch"] for d in run.decisions.values()} == {
        "loans-latam": "alert",
        "loans-apac": "fix_features",
        "loans-eu": "skip",
    }
    pages = {task: state for task, state in run.task_states.items() if task.startswith(("alert", "fix_"))}
    assert pages == {
        "alert[0]": "success",
        "alert[1]": "skipped",
        "alert[2]": "skipped",
        "fix_features[0]": "skipped",
        "fix_features[1]": "success",
        "fix_features[2]": "skipped",
    }
    assert {run.task_states[f"train[{index}]"] for index in range(3)} == {"skipped"}
    subjects = {message["Subject"].split(":")[0]: message["Subject"] for message in paging_run.emails}
    assert sorted(subjects) == [
        "[retrain gate] alert for loans-latam",
        "[retrain gate] fix_features for loans-apac",
    ]
    for prefix, subject in subjects.items():
        headline = subject.removeprefix(f"{prefix}: ")
        first_reason = paging_run.decision(prefix.split()[-1])["reasons"][0]
        assert len(subject) <= 200 and first_reason.startswith(headline.removesuffix("…"))
    assert {(message["From"], message["To"]) for message in paging_run.emails} == {(SENDER, ONCALL)}


def test_the_email_shows_the_headline_the_deciding_findings_and_the_decision_link(
    paging_run: PagingRun,
) -> None:
    message = next(m for m in paging_run.emails if m["Subject"].startswith("[retrain gate] alert"))
    body = message.get_body(("html",)).get_content()
    decision = Decision.from_dict(paging_run.decision("loans-latam"))
    deciding = decision.deciding_findings[0]

    assert "Retrain gate: <span" in body and ">alert</span> for loans-latam</h2>" in body
    assert _html(decision.reasons[0]) in body
    assert deciding.check == "known_events"
    for text in (deciding.check, deciding.subject, deciding.message):
        assert f">{_html(text)}</td>" in body
    assert f'<a href="{paging_run.link(0)}"' in body
    assert "retrain_gate_paging / " in body and "retrain_gate[0]" in body


def test_slack_gets_the_decision_as_plain_text_blocks_with_a_button_to_the_page(
    paging_run: PagingRun,
) -> None:
    posts = {post["blocks"][0]["text"]["text"]: post for post in paging_run.slack_posts}
    fix = Decision.from_dict(paging_run.decision("loans-apac"))

    assert sorted(posts) == [
        "Retrain gate: alert for loans-latam",
        "Retrain gate: fix_features for loans-apac",
    ]
    post = posts["Retrain gate: fix_features for loans-apac"]
    assert post["channel"] == CHANNEL and post["unfurl_links"] is False
    assert post["text"].startswith("Retrain gate: fix_features for loans-apac: ")
    header, headline, fields, findings, actions = post["blocks"]
    assert headline["text"]["text"] == fix.reasons[0]
    assert {field["text"] for field in fields["fields"]} >= {
        "Branch: fix_features",
        "Policy (model): loans-apac",
    }
    assert (
        findings["text"]["text"]
        .splitlines()[1]
        .startswith(f"• {fix.deciding_findings[0].check} · {fix.deciding_findings[0].subject}: FAIL")
    )
    assert actions["elements"][0]["url"] == paging_run.link(1)
    assert _text_types(post["blocks"]) == {"plain_text"}


def test_the_demo_run_without_an_address_or_channel_skips_the_pages(
    example_runs: dict[str, DagRunSummary],
) -> None:
    run = example_runs["retrain_gate_paging"]

    assert run.state == "success"
    assert run.task_states["alert[0]"] == "skipped" and run.task_states["fix_features[1]"] == "skipped"
    assert run.branches == {
        "retrain_gate[0]": "alert",
        "retrain_gate[1]": "fix_features",
        "retrain_gate[2]": "skip",
    }


def test_text_from_the_warehouse_and_the_policy_cannot_add_markup_headers_or_mentions(
    paging_run: PagingRun,
) -> None:
    decision = Decision.from_dict(paging_run.decision("loans-latam"))
    hostile = "<img src=x onerror=alert(1)> & <!channel> <https://evil.example|click> *now*"
    first = decision.deciding_findings[0]
    decision = replace(
        decision,
        policy_name="fraud<script>x()</script>\r\nBcc: everyone@example.com",
        reasons=(hostile,),
        findings=tuple(
            replace(f, message=hostile, subject=hostile) if f == first else f for f in decision.findings
        ),
    )
    message = DecisionMessage(decision, "https://airflow.example.com/d?a=1&b=2", "dag", "run", "retrain_gate")

    subject, body, slack = email_subject(message), email_html(message), slack_payload(message)

    assert "\r" not in subject and "\n" not in subject
    assert "<script>" not in body and "<img" not in body and "<https:" not in body
    assert "fraud&lt;script&gt;x()&lt;/script&gt; Bcc: everyone@example.com" in body
    assert (
        body.count("&lt;img src=x onerror=alert(1)&gt; &amp; &lt;!channel&gt;") == 3
    )  # headline, finding subject and message
    assert 'href="https://airflow.example.com/d?a=1&amp;b=2"' in body
    assert "<!channel>" not in slack["text"] and "&lt;!channel&gt;" in slack["text"]
    assert _text_types(slack["blocks"]) == {"plain_text"}  # Slack formats none of it, mentions nobody
    assert slack["blocks"][1]["text"]["text"] == hostile


def test_a_paging_task_without_a_decision_fails_naming_the_gate_and_a_callback_only_logs_it(
    run_dag: Callable[[str], DagRunSummary], capfd: pytest.CaptureFixture[str]
) -> None:
    run = run_dag("notifier_without_gate")

    output = "".join(capfd.readouterr())
    missing = "No retrain gate decision in XCom 'retrain_gate_decision' of task 'retrain_gate' (map index -1)"
    assert run.task_states == {"retrain_gate": "success", "page": "failed", "page_by_callback": "success"}
    assert output.count(missing) >= 2  # the task's error, and the callback's, which left its task green
    assert "Failed to run task callback" in output


def _own_copy(dag: DAG) -> DAG:
    """The DAG parsed anew from its file: a run's conf is resolved into the DAG's own Param objects, so a run
    of the session's DAG with an address and a channel would make them the defaults of its later runs."""
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag.fileloc).dags[dag.dag_id]


class _Mailbox:
    """aiosmtpd handler keeping every message it receives."""

    def __init__(self, received: list[EmailMessage]) -> None:
        self.received = received

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 Message accepted for delivery"


def _slack_api(posts: list[dict[str, Any]]) -> type[BaseHTTPRequestHandler]:
    """Slack's Web API as far as chat.postMessage: keeps each call's JSON (blocks decoded) and answers ok."""

    class SlackApi(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            assert self.path == "/api/chat.postMessage"
            assert self.headers["Authorization"] == "Bearer xoxb-test-token"
            posts.append({**body, "blocks": json.loads(body["blocks"])})
            answer = json.dumps({"ok": True, "channel": body["channel"], "ts": "1.0"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return SlackApi


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _html(text: str) -> str:
    return html.escape(text, quote=True)


def _text_types(blocks: Any) -> set[str]:
    """The types of every Slack text object in `blocks`."""
    if isinstance(blocks, list):
        return set().union(*(_text_types(item) for item in blocks))
    if isinstance(blocks, dict):
        own = {blocks["type"]} if blocks.get("type") in ("plain_text", "mrkdwn") else set()
        return own.union(*(_text_types(value) for value in blocks.values()))
    return set()
