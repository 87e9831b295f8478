"""Regenerates the UI screenshots in docs/ from the demo, in headless Chromium.

    python -m airflow_retrain_gate.demo.airflow_demo      # runs every example DAG into ./demo_home
    python tests/plugins/readme_screenshots.py            # api-server on that home, then the screenshots

For the history of one model it first runs the concept-drift story's DAG as of each of the TREND_DAYS days
before the demo's date (`airflow dags test` with the `as_of` param), so that model has a history to chart.
The api-server gets its own login (user `admin`, a throwaway password file) and is stopped at the end.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

import httpx
from airflow_site import AirflowSite, api_server, chromium, log_in, screenshot_frame
from playwright.sync_api import Browser, Page, expect

from airflow_retrain_gate.demo.airflow_demo import EXAMPLE_DAGS, demo_environment
from airflow_retrain_gate.demo.catalog import DEMO_AS_OF
from airflow_retrain_gate.demo.provision import demo_connection_env, demo_home

DOCS = Path(__file__).resolve().parents[2] / "docs"
GATE_VIEW = "iframe[title='Retrain gate']"
TREND_DAG, TREND_MODEL = "retrain_gate_concept_drift", "demo-concept_drift"
TREND_DAYS = 12


def main() -> int:
    """Start the demo's api-server, log in, screenshot the history, a run's tab and three decisions."""
    home = demo_home()
    if not (home / "retrain_gate_state.sqlite").exists():
        print(f"No demo decisions in {home}: run `python -m airflow_retrain_gate.demo.airflow_demo` first.")
        return 1
    with tempfile.TemporaryDirectory(prefix="retrain-gate-screenshots-") as scratch:
        passwords = Path(scratch) / "passwords.json"
        passwords.write_text(json.dumps({"admin": "admin"}))
        env = {
            **os.environ,
            **demo_environment(home, EXAMPLE_DAGS, None),
            **demo_connection_env(),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
            "AIRFLOW__API_AUTH__JWT_SECRET": os.urandom(32).hex(),
        }
        run_earlier_days(AirflowSite(home, env, {}), TREND_DAYS)
        with api_server(env, Path(scratch) / "api-server.log") as (base_url, _), chromium() as browser:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            log_in(page, base_url, "admin", "admin")
            take_screenshots(browser, page, base_url)
    print(f"Screenshots written to {DOCS}")
    return 0


def take_screenshots(browser: Browser, page: Page, base_url: str) -> None:
    """One model's history, the concept-drift run's tab, and the decisions of three stories."""
    page.goto(f"{base_url}/plugin/retrain-gate")
    history = page.frame_locator(GATE_VIEW)
    history.locator("select[name='policy']").select_option(TREND_MODEL)
    history.locator("form.filters button").click()
    expect(history.locator("#trends figure")).to_have_count(2, timeout=30_000)
    page.screenshot(path=DOCS / "ui-history.png")

    run_id = latest_run_id(page, base_url, "retrain_gate_concept_drift")
    page.goto(f"{base_url}/dags/retrain_gate_concept_drift/runs/{run_id}/plugin/retrain-gate-run")
    gate_view = page.frame_locator(GATE_VIEW)
    expect(gate_view.locator("#branch")).to_have_text("train", timeout=30_000)
    page.screenshot(path=DOCS / "ui-run-gate-view.png")
    screenshot_frame(browser, gate_view, page, DOCS / "ui-decision.png")

    for dag_id, branch, name in (
        ("retrain_gate_dead_signal", "fix_features", "ui-decision-fix-features.png"),
        ("retrain_gate_transient_campaign", "alert", "ui-decision-alert.png"),
    ):
        page.goto(
            f"{base_url}/dags/{dag_id}/runs/{latest_run_id(page, base_url, dag_id)}/plugin/retrain-gate-run"
        )
        expect(page.frame_locator(GATE_VIEW).locator("#branch")).to_have_text(branch, timeout=30_000)
        screenshot_frame(browser, page.frame_locator(GATE_VIEW), page, DOCS / name)


def run_earlier_days(site: AirflowSite, days: int) -> None:
    """Run the trend DAG as of each of the `days` days before the demo's date, one `airflow dags test` each."""
    for before in range(days, 0, -1):
        as_of = DEMO_AS_OF - timedelta(days=before)
        print(f"{TREND_DAG} as of {as_of:%Y-%m-%d}")
        site.airflow(
            "dags", "test", TREND_DAG, as_of.isoformat(), "-c", json.dumps({"as_of": as_of.isoformat()})
        )


def latest_run_id(page: Page, base_url: str, dag_id: str) -> str:
    """The run id of the DAG's latest logged decision, through the plugin's JSON route and the page's login."""
    cookies = {cookie["name"]: cookie["value"] for cookie in page.context.cookies()}
    listed = httpx.get(
        f"{base_url}/retrain-gate/api/decisions", params={"dag_id": dag_id}, cookies=cookies, timeout=60
    ).json()
    return listed["decisions"][0]["key"]["run_id"]


if __name__ == "__main__":
    sys.exit(main())
