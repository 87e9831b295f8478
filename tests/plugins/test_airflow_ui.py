"""On-call at 3 a.m.: a gated DAG ran and was reviewed; in headless Chromium its run's gate view explains why.

Starts `airflow api-server` on a free localhost port over the test site, runs both DAGs with `airflow dags
test`, answers fraud_scorer's review through Airflow's Human-in-the-loop API, logs in through the login
form and opens the run's "Retrain gate" tab. Screenshots go to docs/ for the README. Needs Debian's
chromium (`apt-get install -y chromium`); Playwright never downloads a browser here.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from airflow_site import AirflowSite
from playwright.sync_api import Browser, FrameLocator, Page, expect, sync_playwright

from airflow_retrain_gate.core import DecisionLog, RunKey, StateStore

pytestmark = [pytest.mark.airflow, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DOCS = Path(__file__).resolve().parents[2] / "docs"
REVIEW_COMMENT = "Labels have matured and the outcome shift holds in both halves: retrain."


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Process:
    """A background command of this test, its output in a file; `stop` ends it and its children."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log: Path) -> None:
        self.name, self.log = name, log
        with open(log, "w") as output:
            self.popen = subprocess.Popen(
                args, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
            )

    def died(self) -> str | None:
        """None while it runs; else its exit code and the end of its output."""
        if self.popen.poll() is None:
            return None
        return f"{self.name} exited with {self.popen.returncode}:\n{self.log.read_text()[-4000:]}"

    def stop(self) -> None:
        """SIGTERM the process group this test started, SIGKILL it if it is still there after 20 s."""
        for sig, grace in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
            if self.popen.poll() is not None:
                return
            try:
                os.killpg(self.popen.pid, sig)
                self.popen.wait(grace)
            except ProcessLookupError:
                return
            except subprocess.TimeoutExpired:
                continue


def wait_for(what: str, ready: Callable[[], Any], timeout: float, *processes: Process) -> Any:
    """Poll `ready` every second until it returns something truthy; fail early if a process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for process in processes:
            if (died := process.died()) is not None:
                pytest.fail(f"while waiting for {what}: {died}")
        if value := ready():
            return value
        time.sleep(1)
    pytest.fail(f"{what}: not within {timeout:.0f} s")


@pytest.fixture(scope="module")
def api_server(airflow_site: AirflowSite) -> Iterator[tuple[str, Process]]:
    """`airflow api-server` of the site on a free port (its URL and process); stopped after the module."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    command = [
        sys.executable,
        "-m",
        "airflow",
        "api-server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    server = Process(
        "airflow api-server",
        command,
        server_env(airflow_site, base_url),
        airflow_site.home / "api-server.log",
    )

    def healthy() -> bool:
        try:
            return httpx.get(f"{base_url}/api/v2/monitor/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for("the api-server to answer", healthy, 120, server)
        yield base_url, server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's headless Chromium driven by Playwright."""
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed: apt-get install -y chromium")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


def server_env(site: AirflowSite, base_url: str) -> dict[str, str]:
    """The site's environment with `[api] base_url`, so extra links point at this server."""
    return {**site.env, "AIRFLOW__API__BASE_URL": base_url}


@dataclass(frozen=True)
class ReviewedRuns:
    """The site after both DAGs ran and alice confirmed fraud_scorer's train decision."""

    base_url: str
    token: str
    fraud_run_id: str


@pytest.fixture(scope="module")
def reviewed_runs(airflow_site: AirflowSite, api_server: tuple[str, Process]) -> ReviewedRuns:
    """Run both DAGs with `airflow dags test`, answering fraud_scorer's review through the HITL API."""
    base_url, server = api_server
    env = server_env(airflow_site, base_url)
    runs = [
        Process(
            f"airflow dags test {dag_id}",
            [sys.executable, "-m", "airflow", "dags", "test", dag_id, "2024-06-01"],
            env,
            airflow_site.home / f"dags-test-{dag_id}.log",
        )
        for dag_id in ("fraud_scorer", "churn_model")
    ]
    try:
        password = airflow_site.passwords["alice"]
        token = httpx.post(f"{base_url}/auth/token", json={"username": "alice", "password": password}).json()
        run_id = answer_review(base_url, token["access_token"], runs[0], server)
        for run in runs:
            wait_for(f"{run.name} to finish", lambda run=run: run.popen.poll() is not None, 240, server)
            assert run.popen.returncode == 0, run.died()
    finally:
        for run in runs:
            run.stop()
    return ReviewedRuns(base_url, token["access_token"], run_id)


def test_the_reviewers_answer_is_logged_and_the_dag_follows_it(
    airflow_site: AirflowSite, reviewed_runs: ReviewedRuns
):
    log = DecisionLog(StateStore(f"sqlite:///{airflow_site.home / 'state.sqlite'}"))
    entry = log.get(RunKey("fraud_scorer", reviewed_runs.fraud_run_id, "gate")).entry
    log.state.dispose()
    instances = httpx.get(
        f"{reviewed_runs.base_url}/api/v2/dags/fraud_scorer/dagRuns/{reviewed_runs.fraud_run_id}/taskInstances",
        headers={"Authorization": f"Bearer {reviewed_runs.token}"},
    ).json()["task_instances"]

    assert (entry.branch, entry.review.branch, entry.review.by) == ("train", "train", "alice")
    assert entry.review.comment == REVIEW_COMMENT
    states = {instance["task_id"]: instance["state"] for instance in instances}
    assert states == {
        "gate": "success",
        "review": "success",
        "train": "success",
        "alert": "skipped",
        "fix_features": "skipped",
    }


@pytest.mark.browser
def test_on_call_opens_a_reviewed_runs_gate_view_and_sees_branch_and_deciding_finding(
    reviewed_runs: ReviewedRuns, airflow_site: AirflowSite, browser: Browser
) -> None:
    base_url = reviewed_runs.base_url
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    log_in(page, base_url, "alice", airflow_site.passwords["alice"])

    page.goto(f"{base_url}/dags/fraud_scorer/runs/{reviewed_runs.fraud_run_id}/plugin/retrain-gate-run")
    gate_view = page.frame_locator("iframe[title='Retrain gate']")
    expect(gate_view.locator("#branch")).to_have_text("train", timeout=30_000)
    expect(gate_view.locator(".card.deciding").first).to_contain_text("concept_drift")
    expect(gate_view.locator(".card.deciding svg").first).to_be_visible()
    expect(gate_view.locator("#review")).to_contain_text("confirmed")
    expect(gate_view.locator("#review")).to_contain_text(REVIEW_COMMENT)
    page.screenshot(path=DOCS / "ui-run-gate-view.png")
    screenshot_frame(browser, gate_view, page, DOCS / "ui-decision.png")

    page.goto(f"{base_url}/plugin/retrain-gate")
    history = page.frame_locator("iframe[title='Retrain gate']")
    expect(history.locator("tbody tr")).to_have_count(2, timeout=30_000)
    expect(history.locator("tbody")).to_contain_text("fix_features")
    page.screenshot(path=DOCS / "ui-history.png")
    history.locator("tbody a", has_text="fix_features").click()
    expect(history.locator("#branch")).to_have_text("fix_features", timeout=30_000)
    screenshot_frame(browser, history, page, DOCS / "ui-decision-fix-features.png")
    page.close()


def answer_review(base_url: str, token: str, run: Process, server: Process) -> str:
    """Wait until fraud_scorer's review task asks, confirm train as alice with a comment; returns the run id."""
    headers = {"Authorization": f"Bearer {token}"}
    runs = f"{base_url}/api/v2/dags/fraud_scorer/dagRuns"

    def asking() -> str | None:
        details = httpx.get(f"{runs}/~/hitlDetails", headers=headers, timeout=5).json()["hitl_details"]
        return details[0]["task_instance"]["dag_run_id"] if details else None

    run_id = wait_for("the review task to ask for input", asking, 240, run, server)
    body = httpx.get(
        f"{runs}/{run_id}/taskInstances/review/-1/hitlDetails", headers=headers, timeout=5
    ).json()["body"]
    assert "Retrain gate: **train**" in body and "concept_drift" in body
    response = httpx.patch(
        f"{runs}/{run_id}/taskInstances/review/-1/hitlDetails",
        headers=headers,
        json={"chosen_options": ["train"], "params_input": {"comment": REVIEW_COMMENT}},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return run_id


def log_in(page: Page, base_url: str, user: str, password: str) -> None:
    """Log in through the simple auth manager's form, as a person would."""
    page.goto(f"{base_url}/")
    page.locator("input[name='username']").fill(user)
    page.locator("input[name='password']").fill(password)
    page.locator("button[type='submit']").click()
    page.wait_for_url(lambda url: "/auth/login" not in url, timeout=30_000)


def screenshot_frame(browser: Browser, frame: FrameLocator, page: Page, path: Path) -> None:
    """A full-length screenshot of the page an embedded view shows (the iframe scrolls inside the UI)."""
    source = frame.locator("body").evaluate("() => window.location.href")
    standalone = browser.new_page(
        viewport={"width": 1200, "height": 900}, storage_state=page.context.storage_state()
    )
    standalone.goto(source)
    standalone.screenshot(path=path, full_page=True)
    standalone.close()
