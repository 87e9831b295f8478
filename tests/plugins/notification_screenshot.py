"""Regenerates docs/notification-email.png: the on-call email of an alert decision, rendered in headless Chromium.

    python tests/plugins/notification_screenshot.py

The decision is the transient-campaign story's, decided by the gate on the demo warehouse (built on first use
in ``$RETRAIN_GATE_DEMO_HOME``); the email is the HTML that ``RetrainGateSmtpNotifier`` sends for it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import quote

from airflow_site import chromium

from airflow_retrain_gate.core import Warehouse, run_gate
from airflow_retrain_gate.core.policy import parse_policy
from airflow_retrain_gate.demo.catalog import DEMO_AS_OF
from airflow_retrain_gate.demo.provision import demo_warehouse_path, ensure_demo_warehouse
from airflow_retrain_gate.demo.stories import story_policy
from airflow_retrain_gate.notifications.message import DecisionMessage, email_html, email_subject

DOCS = Path(__file__).resolve().parents[2] / "docs"


def main() -> int:
    """Decide the transient-campaign story, render its email and take a screenshot of it."""
    url = f"duckdb:///{demo_warehouse_path()}"
    ensure_demo_warehouse(url)
    policy = parse_policy(
        {**story_policy("transient_campaign", schema="transient_campaign"), "name": "loans-latam"}
    )
    warehouse = Warehouse(url)
    try:
        decision = run_gate(policy, warehouse, DEMO_AS_OF)
    finally:
        warehouse.dispose()
    run_id = "manual__2024-06-01T00:00:00+00:00"
    message = DecisionMessage(
        decision=decision,
        decision_url="https://airflow.example.com/retrain-gate/decision/retrain_gate_paging/"
        f"{quote(run_id, safe='')}/retrain_gate?map_index=0",
        dag_id="retrain_gate_paging",
        run_id=run_id,
        gate_task="retrain_gate[0]",
    )
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 960, "height": 600})
        page.set_content(email_html(message))
        # A mail client's header above the body; textContent, so the subject is shown as text.
        page.evaluate(
            """subject => {
                const header = document.createElement("p");
                header.style = "font-size:13px;color:#475467;border-bottom:1px solid #eaecf0;padding-bottom:8px;white-space:pre-line";
                header.textContent = `From: retrain-gate@example.com\nTo: oncall@example.com\nSubject: ${subject}`;
                document.body.prepend(header);
            }""",
            email_subject(message),
        )
        page.screenshot(path=DOCS / "notification-email.png", full_page=True)
    print(f"Screenshot written to {DOCS / 'notification-email.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
