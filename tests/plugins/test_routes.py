"""Every route of the UI plugin, through Airflow's own api-server app, its auth and a real decision log.

alice (admin) reads every DAG; bob reads team blue's `churn_model` but not team red's `fraud_scorer`.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from airflow_site import AirflowSite
from fastapi.testclient import TestClient
from markupsafe import escape

from airflow_retrain_gate.core import Decision, DecisionLog, RunKey
from airflow_retrain_gate.demo.catalog import DEMO_AS_OF

FRAUD = RunKey("fraud_scorer", "scheduled__2024-06-01T00:00:00+00:00", "gate")
CHURN = RunKey("churn_model", "scheduled__2024-06-01T00:00:00+00:00", "gate")


def get(client: TestClient, tokens: dict[str, str], user: str | None, path: str, **params: Any) -> Any:
    """GET a plugin path as `user` (None: anonymous), with the JWT as a bearer token."""
    headers = {"Authorization": f"Bearer {tokens[user]}"} if user else {}
    return client.get(f"/retrain-gate{path}", params=params, headers=headers, follow_redirects=False)


def record(log: DecisionLog, key: RunKey, decision: Decision, days_later: int = 0) -> None:
    """Log `decision` for `key` as if it had been taken `days_later` days after the demo's as_of."""
    log.record(key, replace(decision, as_of=DEMO_AS_OF + timedelta(days=days_later)))
    log.state.dispose()  # the plugin opens the DuckDB file itself


def test_history_lists_the_decisions_of_readable_dags_newest_first(
    client: TestClient, tokens: dict[str, str], log: DecisionLog, demo_decisions: dict[str, Decision]
) -> None:
    record(log, FRAUD, demo_decisions["concept_drift"], days_later=0)
    record(log, CHURN, demo_decisions["dead_signal"], days_later=1)

    listed = get(client, tokens, "alice", "/api/decisions").json()

    assert listed["total"] == 2
    assert [(d["key"]["dag_id"], d["branch"]) for d in listed["decisions"]] == [
        ("churn_model", "fix_features"),
        ("fraud_scorer", "train"),
    ]
    assert listed["decisions"][1]["deciding_checks"] == ["concept_drift", "residual_drift"]
    assert listed["decisions"][1]["url"].startswith("/retrain-gate/decision/fraud_scorer/")
    page = get(client, tokens, "alice", "/")
    table = page.text[page.text.index("<tbody>") :]
    assert page.status_code == 200
    assert table.index("churn_model") < table.index("fraud_scorer")


ROUTES = [
    "/",
    "/?dag_id=fraud_scorer",
    "/api/decisions",
    "/api/decisions?dag_id=fraud_scorer",
    f"/decision/{FRAUD.dag_id}/{FRAUD.run_id}/{FRAUD.task_id}",
    f"/api/decisions/{FRAUD.dag_id}/{FRAUD.run_id}/{FRAUD.task_id}",
    f"/run/{FRAUD.dag_id}/{FRAUD.run_id}",
]


@pytest.mark.parametrize("route", ROUTES)
def test_a_user_without_access_to_a_dag_gets_none_of_its_data_from_any_route(
    client: TestClient,
    tokens: dict[str, str],
    log: DecisionLog,
    demo_decisions: dict[str, Decision],
    route: str,
) -> None:
    record(log, FRAUD, demo_decisions["concept_drift"])
    record(log, CHURN, demo_decisions["dead_signal"])
    path, _, query = route.partition("?")
    params = dict(item.split("=") for item in query.split("&")) if query else {}

    as_alice = get(client, tokens, "alice", path, **params)
    as_bob = get(client, tokens, "bob", path, **params)

    assert as_alice.status_code in (200, 303)
    assert FRAUD.dag_id in as_alice.text + as_alice.headers.get("location", "")
    assert as_bob.status_code in (200, 403)
    assert FRAUD.dag_id not in as_bob.text
    assert "concept_drift" not in as_bob.text


def test_bob_sees_his_own_dags_decisions(
    client: TestClient, tokens: dict[str, str], log: DecisionLog, demo_decisions: dict[str, Decision]
) -> None:
    record(log, FRAUD, demo_decisions["concept_drift"])
    record(log, CHURN, demo_decisions["dead_signal"])

    listed = get(client, tokens, "bob", "/api/decisions").json()

    assert [d["key"]["dag_id"] for d in listed["decisions"]] == ["churn_model"]
    page = get(client, tokens, "bob", f"/decision/{CHURN.dag_id}/{CHURN.run_id}/{CHURN.task_id}")
    assert page.status_code == 200 and "dead_signal" in page.text


def test_without_login_pages_send_to_the_login_form_and_the_api_answers_401(
    client: TestClient, tokens: dict[str, str], log: DecisionLog
) -> None:
    page = get(client, tokens, None, "/", branch="train")
    assert page.status_code == 303
    assert page.headers["location"].startswith("/auth/login?next=")
    assert "branch%3Dtrain" in page.headers["location"]

    assert get(client, tokens, None, "/api/decisions").status_code == 401


def test_the_ui_session_cookie_authenticates_like_the_embedded_views_do(
    client: TestClient, tokens: dict[str, str], log: DecisionLog, demo_decisions: dict[str, Decision]
) -> None:
    record(log, CHURN, demo_decisions["dead_signal"])

    client.cookies.set("_token", tokens["bob"])
    try:
        response = client.get("/retrain-gate/api/decisions")
    finally:
        client.cookies.clear()

    assert response.status_code == 200
    assert response.json()["total"] == 1


def test_a_decision_page_shows_branch_reasons_deciding_evidence_and_coloured_findings(
    client: TestClient, tokens: dict[str, str], log: DecisionLog, demo_decisions: dict[str, Decision]
) -> None:
    decision = demo_decisions["concept_drift"]
    record(log, FRAUD, decision)

    page = get(
        client, tokens, "alice", f"/decision/{FRAUD.dag_id}/{FRAUD.run_id}/{FRAUD.task_id}", map_index=-1
    )

    assert page.status_code == 200
    assert re.search(r'id="branch">train<', page.text)
    assert escape(decision.reasons[0]) in page.text
    deciding = page.text[page.text.index('id="deciding-1"') : page.text.index('id="findings"')]
    assert "concept_drift" in deciding
    assert "<svg" in deciding and "outcome rate by score bin" in deciding
    assert 'class="status status-fail"' in page.text
    assert 'class="row-pass"' in page.text
    run = "scheduled__2024-06-01T00%3A00%3A00%2B00%3A00"
    assert (
        f'id="task-log" href="/dags/fraud_scorer/runs/{run}/tasks/gate?try_number=1" target="_top"'
        in page.text
    )
    assert f'id="grid" href="/dags/fraud_scorer/runs/{run}" target="_top"' in page.text
    scans = page.text[page.text.index('id="scans"') :]  # what the decision read, per table and window
    features = decision.scans[0]
    assert f'<td class="mono">{escape(features.table)}</td><td>{features.windows[0].window}</td>' in scans


def test_an_unmapped_task_instance_view_leaves_the_map_index_placeholder_unfilled(
    client: TestClient, tokens: dict[str, str], log: DecisionLog, demo_decisions: dict[str, Decision]
) -> None:
    record(log, FRAUD, demo_decisions["concept_drift"])

    page = get(
        client,
        tokens,
        "alice",
        f"/decision/{FRAUD.dag_id}/{FRAUD.run_id}/{FRAUD.task_id}",
        map_index="{MAP_INDEX}",
    )

    assert page.status_code == 200


def test_a_review_shows_on_the_decision_and_in_the_history(
    client: TestClient, tokens: dict[str, str], log: DecisionLog, demo_decisions: dict[str, Decision]
) -> None:
    record(log, FRAUD, demo_decisions["concept_drift"])
    log.record_review(FRAUD, "alert", "alice", "labels of the last week are <b>late</b>")
    log.state.dispose()

    page = get(client, tokens, "alice", f"/decision/{FRAUD.dag_id}/{FRAUD.run_id}/{FRAUD.task_id}")
    listed = get(client, tokens, "alice", "/api/decisions").json()["decisions"][0]

    review = page.text[page.text.index('id="review"') :]
    assert "overrode to" in review and ">alert<" in review and "alice" in review
    assert "labels of the last week are &lt;b&gt;late&lt;/b&gt;" in review
    assert (listed["branch"], listed["effective_branch"], listed["review"]["by"]) == (
        "train",
        "alert",
        "alice",
    )


def test_a_run_view_opens_its_only_gate_lists_several_and_says_when_there_is_none(
    client: TestClient, tokens: dict[str, str], log: DecisionLog, demo_decisions: dict[str, Decision]
) -> None:
    record(log, FRAUD, demo_decisions["concept_drift"])
    for map_index in (0, 1):
        record(log, replace(CHURN, map_index=map_index), demo_decisions["dead_signal"])

    single = get(client, tokens, "alice", f"/run/{FRAUD.dag_id}/{FRAUD.run_id}")
    several = get(client, tokens, "alice", f"/run/{CHURN.dag_id}/{CHURN.run_id}")
    none = get(client, tokens, "alice", f"/run/{CHURN.dag_id}/manual__2024-07-01")

    assert single.status_code == 303
    assert (
        single.headers["location"]
        == "/retrain-gate/decision/fraud_scorer/scheduled__2024-06-01T00%3A00%3A00%2B00%3A00/gate?map_index=-1"
    )
    assert several.status_code == 200 and several.text.count("gate [") == 2
    assert none.status_code == 200 and "No retrain gate decided in this DAG run" in none.text


def test_history_filters_by_dag_branch_and_dates_and_pages_by_fifty(
    client: TestClient, tokens: dict[str, str], log: DecisionLog, demo_decisions: dict[str, Decision]
) -> None:
    stories = ["healthy", "dead_signal", "segment_mix_shift", "concept_drift"]
    for day in range(120):
        key = replace(FRAUD if day % 2 else CHURN, run_id=f"scheduled__{day:03d}")
        record(log, key, demo_decisions[stories[day % 4]], days_later=day)

    def total(**params: str) -> int:
        return get(client, tokens, "alice", "/api/decisions", **params).json()["total"]

    assert total() == 120
    assert total(dag_id="churn_model") == 60
    assert total(branch="train") == 30
    assert total(since="2024-06-11", until="2024-06-20") == 10
    assert total(dag_id="fraud_scorer", branch="fix_features") == 30
    second = get(client, tokens, "alice", "/api/decisions", page=2).json()["decisions"]
    assert [d["key"]["run_id"] for d in second][:2] == ["scheduled__069", "scheduled__068"]
    assert len(get(client, tokens, "alice", "/api/decisions", page=3).json()["decisions"]) == 20
    assert get(client, tokens, "alice", "/", page=2).text.count('class="headline"') == 50
    assert get(client, tokens, "alice", "/api/decisions", since="June 1st").status_code == 400
    assert get(client, tokens, "alice", "/", branch="retrain").status_code == 400


def as_model(decision: Decision, policy_name: str, predictions: str) -> Decision:
    """`decision` as one of model `policy_name`'s, its outcome findings on the model's `predictions` table."""
    findings = tuple(
        replace(finding, subject=predictions)
        if finding.check in ("concept_drift", "performance")
        else finding
        for finding in decision.findings
    )
    return replace(decision, policy_name=policy_name, findings=findings)


@pytest.mark.parametrize("log", ["duckdb", "postgresql"], indirect=True)
def test_history_per_model_filters_by_policy_and_charts_its_branches_and_deciding_statistic(
    client: TestClient, tokens: dict[str, str], log: DecisionLog, demo_decisions: dict[str, Decision]
) -> None:
    days = ["healthy", "healthy", "healthy", "concept_drift", "concept_drift"]
    for day, story in enumerate(days):
        churn = as_model(demo_decisions[story], "churn-scorer", "ml.predictions[model_name = 'churn']")
        record(log, replace(CHURN, run_id=f"scheduled__{day}"), churn, days_later=day)
        fraud = replace(demo_decisions["dead_signal"], policy_name="fraud-scorer")
        record(log, replace(FRAUD, run_id=f"scheduled__{day}"), fraud, days_later=day)

    listed = get(client, tokens, "alice", "/api/decisions", policy="churn-scorer").json()
    page = get(client, tokens, "alice", "/", policy="churn-scorer").text

    assert listed["total"] == 5
    assert {d["policy_name"] for d in listed["decisions"]} == {"churn-scorer"}
    assert '<option value="churn-scorer" selected>' in page and '<option value="fraud-scorer" >' in page
    assert page.count('<td class="policy"><a href="/retrain-gate/?policy=churn-scorer">') == 5
    branches, statistic = page[page.index('id="trends"') :].split("<figure>")[1:3]
    assert "branch per decision" in branches
    assert branches.count('fill="#6b7280"') == 3 and branches.count('fill="#2563eb"') == 2  # skip, train
    assert "concept_drift · ml.predictions[model_name = &#39;churn&#39;]: calibration_shift" in statistic
    assert statistic.count("<circle") == 5 and statistic.count('fill="#fde68a"') == 2  # the failing days
    assert "<title>threshold 0.2</title>" in statistic
    assert 'id="trends"' not in get(client, tokens, "alice", "/").text


def test_an_unknown_policy_or_parameter_is_a_400_that_names_it_and_lists_only_readable_policies(
    client: TestClient, tokens: dict[str, str], log: DecisionLog, demo_decisions: dict[str, Decision]
) -> None:
    record(log, CHURN, replace(demo_decisions["healthy"], policy_name="churn-scorer"))
    record(log, FRAUD, replace(demo_decisions["dead_signal"], policy_name="fraud-scorer"))

    unknown = get(client, tokens, "bob", "/api/decisions", policy="fraud-scorer")
    misspelt = get(client, tokens, "alice", "/api/decisions", model="churn-scorer")
    page = get(client, tokens, "alice", "/", policy="churn")

    assert unknown.status_code == 400
    assert unknown.json()["detail"] == (
        "policy 'fraud-scorer' has no decisions in the DAGs you can read; logged policies: churn-scorer"
    )
    assert misspelt.status_code == 400 and "unknown query parameter 'model'" in misspelt.json()["detail"]
    assert page.status_code == 400 and "policy &#39;churn&#39; has no decisions" in page.text


def test_values_from_data_are_escaped_in_pages_and_charts(
    client: TestClient, tokens: dict[str, str], log: DecisionLog, demo_decisions: dict[str, Decision]
) -> None:
    decision = demo_decisions["segment_mix_shift"]
    attack = "<script>alert(1)</script>"
    findings = tuple(
        replace(
            finding,
            subject=finding.subject + attack,
            message=attack + finding.message,
            evidence={
                **finding.evidence,
                "histogram": {"labels": [attack, "b"], "reference": [0.5, 0.5], "current": [0.9, 0.1]},
            },
        )
        if finding.check == "segment_mix"
        else finding
        for finding in decision.findings
    )
    record(log, FRAUD, replace(decision, findings=findings, reasons=(attack, *decision.reasons)))

    page = get(client, tokens, "alice", f"/decision/{FRAUD.dag_id}/{FRAUD.run_id}/{FRAUD.task_id}")

    assert page.status_code == 200
    assert "<script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "<svg" in page.text


def test_a_decision_of_a_dag_airflow_does_not_know_is_shown_to_nobody(
    client: TestClient, tokens: dict[str, str], log: DecisionLog, demo_decisions: dict[str, Decision]
) -> None:
    record(log, RunKey("cli", "cli__2024-06-01", "demo-healthy"), demo_decisions["healthy"])

    assert get(client, tokens, "alice", "/api/decisions").json()["total"] == 0
    assert get(client, tokens, "alice", "/api/decisions/cli/cli__2024-06-01/demo-healthy").status_code == 404


def test_an_unreachable_decision_log_is_named_with_the_setting_to_fix(
    client: TestClient,
    tokens: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    airflow_in_process: AirflowSite,
) -> None:
    monkeypatch.setenv("AIRFLOW__RETRAIN_GATE__STATE_CONN_ID", "no_such_connection")

    page = get(client, tokens, "alice", "/")
    api = get(client, tokens, "alice", "/api/decisions")

    assert page.status_code == api.status_code == 503
    assert "no_such_connection" in api.json()["detail"] and "state_conn_id" in api.json()["detail"]
    assert "Decision log unavailable" in page.text


def test_airflow_lists_the_plugin_with_its_views(client: TestClient, tokens: dict[str, str]) -> None:
    headers = {"Authorization": f"Bearer {tokens['alice']}"}
    plugins = client.get("/api/v2/plugins", headers=headers).json()["plugins"]

    plugin = next(plugin for plugin in plugins if plugin["name"] == "retrain_gate")
    assert [app["url_prefix"] for app in plugin["fastapi_apps"]] == ["/retrain-gate"]
    assert {(view["destination"], view["href"]) for view in plugin["external_views"]} == {
        ("nav", "/retrain-gate/"),
        ("dag_run", "/retrain-gate/run/{DAG_ID}/{RUN_ID}"),
    }
