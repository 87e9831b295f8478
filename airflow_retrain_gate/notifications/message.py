"""The message on-call gets about a decision, rendered as an email (subject and HTML) and as a Slack payload.

Airflow-free: built from a Decision and the URL of its page. Every text that comes from the warehouse or the
policy (policy name, reasons, subjects, finding messages) is escaped for the medium: HTML-escaped in the email,
one line in the subject, Slack ``plain_text`` objects in the blocks and ``&``/``<``/``>``-escaped in the
fallback text, so data cannot add tags, links or mentions.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

from airflow_retrain_gate.core.decision import STATUS_MARK, Decision
from airflow_retrain_gate.core.escaping import one_line, printable
from airflow_retrain_gate.core.findings import Finding

MAX_FINDINGS = 10
"""Deciding findings listed in a message; the rest are counted and left to the decision page."""
BRANCH_COLOR = {"fix_features": "#b42318", "alert": "#b54708", "train": "#175cd3", "skip": "#067647"}
_SLACK_SECTION_LIMIT = 3000  # Slack refuses a section text longer than this
_SLACK_HEADER_LIMIT = 150


@dataclass(frozen=True)
class DecisionMessage:
    """One gate decision as on-call reads it: what was decided, where it ran, and the link to its evidence."""

    decision: Decision
    decision_url: str
    """The decision page (``operators.links.decision_url``); absolute when Airflow's ``[api] base_url`` is set."""
    dag_id: str
    run_id: str
    gate_task: str
    """The gate task instance: ``task_id``, or ``task_id[map_index]`` when mapped."""

    @property
    def title(self) -> str:
        """``Retrain gate: alert for fraud-latam``, on one line."""
        return one_line(f"Retrain gate: {self.decision.branch.value} for {self.decision.policy_name}", 200)

    @property
    def headline(self) -> str:
        """The decision's first reason on one line (the reason that decided)."""
        first = self.decision.reasons[0] if self.decision.reasons else "(no reasons recorded)"
        return one_line(first, 300)

    @property
    def findings(self) -> list[Finding]:
        """The deciding findings shown, most specific first (at most `MAX_FINDINGS`)."""
        return self.decision.deciding_findings[:MAX_FINDINGS]

    @property
    def findings_left_out(self) -> int:
        """How many deciding findings the message does not list."""
        return max(0, len(self.decision.deciding_findings) - MAX_FINDINGS)

    @property
    def where(self) -> str:
        """``dag_id / run_id / task``: where the decision was taken."""
        return printable(f"{self.dag_id} / {self.run_id} / {self.gate_task}")


def email_subject(message: DecisionMessage) -> str:
    """The email subject: branch, policy and headline on one line (no header can be injected), at most 200
    characters."""
    decision = message.decision
    return _cut(
        printable(f"[retrain gate] {decision.branch.value} for {decision.policy_name}: {message.headline}"),
        200,
    )


def email_html(message: DecisionMessage) -> str:
    """The email body: a self-contained HTML page with inline styles (mail clients drop style sheets)."""
    decision = message.decision
    color = BRANCH_COLOR[decision.branch.value]
    rows = "".join(
        f'<tr><th style="{_TH}">{label}</th><td style="{_TD}">{_html(value)}</td></tr>'
        for label, value in (
            ("Branch", decision.branch.value),
            ("Policy (model)", decision.policy_name),
            ("Where", message.where),
            ("As of", decision.as_of.isoformat()),
        )
    )
    findings = "".join(
        f'<tr><td style="{_TD}">{_html(f.check)}</td><td style="{_TD}">{_html(f.subject)}</td>'
        f'<td style="{_TD}">{STATUS_MARK[f.status.value]}</td><td style="{_TD}">{_html(_numbers(f))}</td>'
        f'<td style="{_TD}">{_html(f.message)}</td></tr>'
        for f in message.findings
    )
    more = (
        f'<p style="color:#475467">{message.findings_left_out} more deciding findings are on the decision page.</p>'
        if message.findings_left_out
        else ""
    )
    findings_table = (
        f'<table style="border-collapse:collapse;margin:8px 0">'
        f'<tr><th style="{_TH}">check</th><th style="{_TH}">subject</th><th style="{_TH}">status</th>'
        f'<th style="{_TH}">value / threshold</th><th style="{_TH}">message</th></tr>{findings}</table>{more}'
        if findings
        else '<p style="color:#475467">No single finding decided (see the reasons on the decision page).</p>'
    )
    link = html.escape(message.decision_url, quote=True)
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head>'
        '<body style="font-family:Helvetica,Arial,sans-serif;font-size:14px;color:#101828;max-width:900px">'
        f'<h2 style="margin:0 0 4px 0">Retrain gate: <span style="color:{color}">{decision.branch.value}</span>'
        f" for {_html(decision.policy_name)}</h2>"
        f'<p style="font-size:16px;margin:8px 0 12px 0">{_html(message.headline)}</p>'
        f'<table style="border-collapse:collapse">{rows}</table>'
        f'<h3 style="margin:16px 0 4px 0">Deciding findings</h3>{findings_table}'
        f'<p><a href="{link}" style="display:inline-block;padding:8px 14px;background:{color};color:#fff;'
        f'text-decoration:none;border-radius:4px">Open the decision and its evidence</a></p>'
        f'<p style="color:#475467;font-size:12px">{link}<br>policy sha256 {_html(decision.policy_sha256[:12])}</p>'
        "</body></html>"
    )


def slack_payload(message: DecisionMessage) -> dict[str, Any]:
    """``{"text", "blocks"}`` for Slack's chat.postMessage: data in ``plain_text`` objects, a button to the page.

    ``text`` is the notification's fallback (mrkdwn), escaped so that data cannot link or mention anyone.
    """
    decision = message.decision
    findings = [
        f"• {printable(f.check)} · {printable(f.subject)}: {STATUS_MARK[f.status.value]}"
        + (f" ({_numbers(f)})" if _numbers(f) else "")
        + f" · {printable(f.message)}"
        for f in message.findings
    ]
    if message.findings_left_out:
        findings.append(f"… and {message.findings_left_out} more on the decision page")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": _plain(message.title, _SLACK_HEADER_LIMIT)},
        {"type": "section", "text": _plain(message.headline)},
        {
            "type": "section",
            "fields": [
                _plain(f"Branch: {decision.branch.value}"),
                _plain(f"Policy (model): {printable(decision.policy_name)}"),
                _plain(f"Where: {message.where}"),
                _plain(f"As of: {decision.as_of.isoformat()}"),
            ],
        },
        {
            "type": "section",
            "text": _plain("Deciding findings\n" + ("\n".join(findings) or "No single finding decided.")),
        },
    ]
    if message.decision_url.startswith(("https://", "http://")):
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": _plain("Open the decision"),
                        "url": message.decision_url,
                        "style": "danger" if decision.branch.value == "fix_features" else "primary",
                    }
                ],
            }
        )
    else:  # Slack buttons need an absolute URL: Airflow's [api] base_url is not set
        blocks.append({"type": "context", "elements": [_plain(f"Decision page: {message.decision_url}")]})
    return {"text": slack_text(f"{message.title}: {message.headline}"), "blocks": blocks}


def slack_text(text: str) -> str:
    """`text` on one line for Slack mrkdwn: ``&``, ``<`` and ``>`` escaped as Slack requires (no links, no
    ``<!channel>`` mentions)."""
    return printable(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_TH = "text-align:left;padding:4px 10px 4px 0;color:#475467;font-weight:600;vertical-align:top"
_TD = "padding:4px 10px 4px 0;border-top:1px solid #eaecf0;vertical-align:top"


def _html(text: str) -> str:
    return html.escape(printable(text), quote=True)


def _plain(text: str, limit: int = _SLACK_SECTION_LIMIT) -> dict[str, Any]:
    return {"type": "plain_text", "text": _cut(text, limit), "emoji": False}


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _numbers(finding: Finding) -> str:
    if finding.value is None:
        return ""
    statistic = f"{finding.statistic} " if finding.statistic else ""
    threshold = f" / {finding.threshold:.4g}" if finding.threshold is not None else ""
    return f"{statistic}{finding.value:.4g}{threshold}"
