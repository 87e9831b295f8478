"""On-call at 3 a.m.: a gated DAG ran and was reviewed; in headless Chromium its run's gate view explains why.

Starts `airflow api-server` on a free localhost port over the test site, runs both DAGs with `airflow dags
test`, answers fraud_scorer's review through Airflow's Human-in-the-loop API, then logs in through the
login form and opens the run's "Retrain gate" tab and the history of one model. churn_model's run holds a
gate mapped over two models' policies and a gate that fails. Every process the module starts is stopped by it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from airflow_site import (
    CHROMIUM,
    AirflowSite,
    Process,
    api_server,
    chromium,
    log_in,
    screenshot_frame,
    wait_for,
)
from playwright.sync_api import Browser, expect

from airflow_retrain_gate.core import DecisionLog, RunKey, StateStore

pytestmark = [pytest.mark.airflow, pytest.mark.slow]

REVIEW_COMMENT = "Labels have matured and the outcome shift holds in both halves: retrain."
API_TIMEOUT_S = 60.0
"""How long a request may wait on the api-server, which answers slowly while the DAG runs load the machine."""


@dataclass(frozen=True)
class ReviewedRuns:
    """The site's api-server after both DAGs ran and alice confirmed fraud_scorer's train decision."""

    base_url: str
    token: str
    fraud_run_id: str

    def get(self, path: str, **params: str) -> httpx.Response:
        """GET a path of the api-server as alice."""
        headers = {"Authorization": f"Bearer {self.token}"}
        return httpx.get(f"{self.base_url}{path}", params=params, headers=headers, timeout=API_TIMEOUT_S)


@pytest.fixture(scope="module")
def reviewed_runs(airflow_site: AirflowSite) -> Iterator[ReviewedRuns]:
    """Run both DAGs with `airflow dags test` while the api-server runs; answer the review through it."""
    with api_server(airflow_site.env, airflow_site.home / "api-server.log") as (base_url, server):
        env = {**airflow_site.env, "AIRFLOW__API__BASE_URL": base_url}
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
            login = {"username": "alice", "password": airflow_site.passwords["alice"]}
            token = httpx.post(f"{base_url}/auth/token", json=login, timeout=API_TIMEOUT_S).json()[
                "access_token"
            ]
            run_id = answer_review(base_url, token, runs[0], server)
            for run, exit_code in zip(runs, (0, 1), strict=True):  # churn_model's retired_gate fails
                wait_for(f"{run.name} to finish", lambda run=run: run.popen.poll() is not None, 240, server)
                assert run.popen.returncode == exit_code, run.died()
        finally:
            for run in runs:
                run.stop()
        yield ReviewedRuns(base_url, token, run_id)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's headless Chromium."""
    if not CHROMIUM.exists():
        message = "Debian's chromium is not installed: apt-get install -y chromium"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    with chromium() as browser:
        yield browser


def answer_review(base_url: str, token: str, run: Process, server: Process) -> str:
    """Wait until fraud_scorer's review task asks, confirm train as alice with a comment; returns the run id."""
    headers = {"Authorization": f"Bearer {token}"}
    runs = f"{base_url}/api/v2/dags/fraud_scorer/dagRuns"

    def asking() -> str | None:
        details = httpx.get(f"{runs}/~/hitlDetails", headers=headers, timeout=API_TIMEOUT_S).json()[
            "hitl_details"
        ]
        return details[0]["task_instance"]["dag_run_id"] if details else None

    run_id = wait_for("the review task to ask for input", asking, 240, run, server)
    review = f"{runs}/{run_id}/taskInstances/review/-1/hitlDetails"
    body = httpx.get(review, headers=headers, timeout=API_TIMEOUT_S).json()["body"]
    assert "Retrain gate: **train**" in body and "concept_drift" in body
    answer = {"chosen_options": ["train"], "params_input": {"comment": REVIEW_COMMENT}}
    response = httpx.patch(review, headers=headers, json=answer, timeout=API_TIMEOUT_S)
    assert response.status_code == 200, response.text
    return run_id


def test_the_reviewers_answer_is_logged_and_the_dag_follows_it(
    airflow_site: AirflowSite, reviewed_runs: ReviewedRuns
) -> None:
    log = DecisionLog(StateStore(f"sqlite:///{airflow_site.home / 'state.sqlite'}"))
    entry = log.get(RunKey("fraud_scorer", reviewed_runs.fraud_run_id, "gate")).entry
    log.state.dispose()
    instances = reviewed_runs.get(
        f"/api/v2/dags/fraud_scorer/dagRuns/{reviewed_runs.fraud_run_id}/taskInstances"
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


def test_the_gate_tasks_extra_link_opens_its_decision(reviewed_runs: ReviewedRuns) -> None:
    run = f"/api/v2/dags/fraud_scorer/dagRuns/{reviewed_runs.fraud_run_id}"

    links = reviewed_runs.get(f"{run}/taskInstances/gate/links").json()["extra_links"]
    page = reviewed_runs.get(links["Retrain gate decision"].removeprefix(reviewed_runs.base_url))

    assert links["Retrain gate decision"].startswith(
        f"{reviewed_runs.base_url}/retrain-gate/decision/fraud_scorer/"
    )
    assert page.status_code == 200 and 'id="branch">train<' in page.text


def test_a_mapped_gate_shows_its_rendered_map_index_and_a_failed_gate_says_so_with_its_log(
    reviewed_runs: ReviewedRuns,
) -> None:
    listed = reviewed_runs.get("/retrain-gate/api/decisions", dag_id="churn_model").json()["decisions"]
    run_id = listed[0]["key"]["run_id"]
    run_page = reviewed_runs.get(f"/retrain-gate/run/churn_model/{run_id}")

    assert sorted((d["key"]["task_id"], d["rendered_map_index"]) for d in listed) == [
        ("gate", None),
        ("models", "demo-healthy"),
        ("models", "demo-segment_mix_shift"),
    ]
    assert "models [demo-healthy]" in run_page.text
    failed = run_page.text[run_page.text.index('id="undecided-1"') :]
    assert "retired_gate" in failed and "failed" in failed and "no decision was logged" in failed
    assert f'href="/dags/churn_model/runs/{quote(run_id, safe="")}/tasks/retired_gate?try_number=1"' in failed
    assert "No retrain gate decided" not in run_page.text
    retired = reviewed_runs.get(f"/retrain-gate/decision/churn_model/{run_id}/retired_gate")
    assert retired.status_code == 404 and "<b>retired_gate</b> <b>failed</b>" in retired.text
    mapped = reviewed_runs.get(f"/retrain-gate/decision/churn_model/{run_id}/models", map_index="1").text
    mapped_json = reviewed_runs.get(f"/retrain-gate/api/decisions/churn_model/{run_id}/models", map_index="1")
    assert mapped_json.json()["rendered_map_index"] == "demo-segment_mix_shift"
    assert "› models [demo-segment_mix_shift]" in mapped
    assert (
        f'href="/dags/churn_model/runs/{quote(run_id, safe="")}/tasks/models/mapped/1?try_number=1"' in mapped
    )


@pytest.mark.browser
def test_on_call_opens_a_reviewed_runs_gate_view_and_sees_branch_and_deciding_finding(
    reviewed_runs: ReviewedRuns, airflow_site: AirflowSite, browser: Browser, tmp_path: Path
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
    page.screenshot(path=tmp_path / "run-gate-view.png")
    screenshot_frame(browser, gate_view, page, tmp_path / "decision.png")

    page.goto(f"{base_url}/plugin/retrain-gate")
    history = page.frame_locator("iframe[title='Retrain gate']")
    expect(history.locator("tbody tr")).to_have_count(4, timeout=30_000)
    history.locator("select[name='policy']").select_option("demo-concept_drift")
    history.locator("form.filters button").click()
    expect(history.locator("tbody tr")).to_have_count(1, timeout=30_000)
    expect(history.locator("#trends figure")).to_have_count(2)
    expect(history.locator("#trends figcaption").nth(1)).to_contain_text("concept_drift")
    page.screenshot(path=tmp_path / "model-history.png")
    history.locator("tbody a", has_text="train").first.click()
    expect(history.locator("#branch")).to_have_text("train", timeout=30_000)
    page.close()
