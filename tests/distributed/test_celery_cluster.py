"""The gated example DAGs on a distributed Airflow: CeleryExecutor with two workers on Redis, PostgreSQL as
metadata database, a triggerer for the deferrable sensors, a scheduler, a dag-processor and an api-server, as
docker-compose.yml runs them (tests/distributed/cluster.py starts its services as processes).

Three story DAGs and the platform DAG (four mapped models) run three times each: the first runs fill the
reference-profile cache, the later ones read it, wherever they land. Then a worker is killed while a gate
waits on a slow warehouse, and the gate's retry runs on the other worker. Last, a reviewed gate
nobody answers takes its review's timeout branch. The warehouse and the gate's state
(decision log, profile cache) are a scratch PostgreSQL database; `dag.test()` runs of the same DAGs against
the same warehouse (their state apart) give the branches every run must take.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cluster import (
    CACHED_REFERENCE_PROFILES,
    DAY_PART_KINDS,
    HEARTBEAT_TIMEOUT_S,
    AirflowCluster,
    ApiClient,
    clean_environment,
)
from slow_warehouse import SLOW_SCHEMA, create_slow_schema, held_queries, release
from warehouse_load import measure_gate_load

from airflow_retrain_gate.core.state import DEFAULT_SCHEMA
from airflow_retrain_gate.demo.airflow_demo import instance_name
from airflow_retrain_gate.demo.catalog import DEMO_AS_OF
from airflow_retrain_gate.demo.provision import DEMO_STATE_CONN_ID, DEMO_WAREHOUSE_CONN_ID
from airflow_retrain_gate.demo.stories import story_policy

pytestmark = [pytest.mark.postgres, pytest.mark.airflow, pytest.mark.slow, pytest.mark.timeout(600)]

STORIES = ("pipeline_lag", "transient_campaign", "stable_harmless_drift")
"""Story DAGs to run: fix_features (its deferred sensor gives up), alert and skip; none shares tables with a
model of the platform DAG, so no two first runs compute the same reference profile at once."""
DAG_IDS = [*(f"retrain_gate_{story}" for story in STORIES), "retrain_gate_platform_policy"]
WAVES = ("wave_1", "wave_2", "wave_3")
GATE_TASK = "retrain_gate"
SLOW_DAG = "retrain_gate_slow_warehouse"
FINISHED = ("success", "failed")

Key = tuple[str, str, str, int]
"""A task instance: dag_id, run_id, task_id, map_index."""


@dataclass(frozen=True)
class LoggedDecision:
    """A row of the decision log."""

    branch: str
    try_number: int
    decision: dict[str, Any]


@dataclass(frozen=True)
class ExampleRuns:
    """What the example runs left in the metadata database, the decision log and the profile cache."""

    run_states: dict[tuple[str, str], str]
    task_instances: dict[Key, Any]
    """Rows of task_instance: state, hostname, try_number."""
    decisions: dict[Key, LoggedDecision]
    xcom_branches: dict[Key, str]
    """The branch in each gate's XCom decision."""
    cache: list[Any]
    """Rows of the profile cache: kind, table_name, window_start, window_end."""
    baseline: dict[str, dict[str, Any]]
    """dag_id -> the summary of its `dag.test()` run (task states, decisions by instance name)."""


def test_every_run_takes_the_branch_and_task_states_of_dag_test(example_runs: ExampleRuns) -> None:
    """Each wave decides like `dag.test()`, except that of the waves that want to train one model on one
    interval exactly one trains: the others alert, since one model has one cooldown (docs/policy.md)."""
    assert example_runs.run_states == {(dag_id, wave): "success" for dag_id in DAG_IDS for wave in WAVES}
    for dag_id in DAG_IDS:
        baseline = example_runs.baseline[dag_id]
        assert baseline["state"] == "success", dag_id
        trained: dict[str, list[str]] = {}
        for wave in WAVES:
            states = {
                instance_name(task_id, map_index): row.state
                for (dag, run, task_id, map_index), row in example_runs.task_instances.items()
                if (dag, run) == (dag_id, wave)
            }
            expected_states = dict(baseline["task_states"])
            for name, expected in baseline["decisions"].items():
                task_id, map_index = _parse_instance(name)
                decision = example_runs.decisions[(dag_id, wave, task_id, map_index)].decision
                reasons = decision["reasons"]
                if expected["branch"] == "train" and decision["branch"] == "alert":
                    assert reasons[0].startswith("Cooldown: "), (dag_id, wave, name)
                    reasons = reasons[1:]
                    expected_states[instance_name("train", map_index)] = "skipped"
                    expected_states[instance_name("alert", map_index)] = "success"
                else:
                    assert decision["branch"] == expected["branch"], (dag_id, wave, name)
                if decision["branch"] == "train":
                    trained.setdefault(name, []).append(wave)
                assert decision["deciding_checks"] == expected["deciding_checks"], (dag_id, wave, name)
                assert reasons == expected["reasons"], (dag_id, wave, name)
            assert states == expected_states, (dag_id, wave)
        wanted = [name for name, expected in baseline["decisions"].items() if expected["branch"] == "train"]
        assert {name: len(trained.get(name, [])) for name in wanted} == dict.fromkeys(wanted, 1), dag_id


def test_the_pipeline_lag_sensor_deferred_to_the_triggerer_and_gave_up(
    example_runs: ExampleRuns, cluster: AirflowCluster
) -> None:
    for wave in WAVES:
        sensor = example_runs.task_instances[("retrain_gate_pipeline_lag", wave, "wait_for_features", -1)]
        assert sensor.state == "skipped"  # its trigger timed out on the triggerer; soft_fail skipped it
    deferrals = cluster.query(
        "SELECT count(*) AS n FROM log WHERE dag_id = 'retrain_gate_pipeline_lag' "
        "AND task_id = 'wait_for_features' AND event = 'deferred'"
    )
    assert deferrals[0].n == len(WAVES)


def test_tasks_ran_on_both_workers(example_runs: ExampleRuns, cluster: AirflowCluster) -> None:
    workers = set(cluster.workers)
    ran = [row for row in example_runs.task_instances.values() if row.hostname]
    gates = [row for key, row in example_runs.task_instances.items() if key[2] == GATE_TASK]

    assert len(workers) == 2
    assert {row.hostname for row in ran} == workers
    assert {row.hostname for row in gates} == workers
    assert Counter(row.hostname for row in ran).most_common()[-1][1] >= len(ran) // 5  # both did real work


def test_the_decision_log_has_one_row_per_gate_task_instance(example_runs: ExampleRuns) -> None:
    gates = {key: row for key, row in example_runs.task_instances.items() if key[2] == GATE_TASK}

    assert len(gates) == len(WAVES) * sum(len(example_runs.baseline[dag]["decisions"]) for dag in DAG_IDS)
    assert set(example_runs.decisions) == set(gates)
    for key, row in gates.items():
        logged = example_runs.decisions[key]
        assert logged.try_number == row.try_number == 1, key
        assert logged.branch == example_runs.xcom_branches[key], key


def test_reference_profiles_are_computed_once_and_reused_across_workers(example_runs: ExampleRuns) -> None:
    cache = Counter(
        (row.kind, row.table_name, row.window_start, row.window_end) for row in example_runs.cache
    )
    whole = [key for key in cache if key[0] not in DAY_PART_KINDS]
    notes = {key: row.decision["notes"]["profile_cache"] for key, row in example_runs.decisions.items()}
    parts = {key: row.decision["notes"]["day_parts"] for key, row in example_runs.decisions.items()}
    first = {key: note for key, note in notes.items() if key[1] == WAVES[0]}
    later = {key: note for key, note in notes.items() if key[1] != WAVES[0]}

    # One row per whole profile (a day part or baseline is one per key: a train pins new bins, which may hold
    # a second baseline of the same reference window).
    assert {cache[key] for key in whole} == {1}
    assert len(whole) == sum(note["misses"] for note in first.values())  # each computed by one gate only
    assert all(note["hits"] == 0 for note in first.values())
    # A model that trained gets new bins at its next run, which profiles the reference days again.
    trained = {
        row.decision["policy_name"]
        for row in example_runs.decisions.values()
        if row.decision["branch"] == "train"
    }
    untrained = {
        key for key, row in example_runs.decisions.items() if row.decision["policy_name"] not in trained
    }
    assert untrained, "some example gates never train"
    for (dag_id, wave, task_id, map_index), note in later.items():
        gate = (dag_id, WAVES[0], task_id, map_index)
        assert note == {"hits": first[gate]["misses"], "misses": 0}
        if (dag_id, wave, task_id, map_index) in untrained:
            # The same windows later: every day part comes from the cache, whichever worker computed it.
            later_parts = parts[(dag_id, wave, task_id, map_index)]
            assert (later_parts["cached"], later_parts["computed"]) == (parts[gate]["computed"], 0)
    warm_figures = defaultdict(
        set
    )  # every warm run of an untrained gate sends the same queries, on either worker
    for (dag_id, wave, task_id, map_index), logged in example_runs.decisions.items():
        if wave != WAVES[0] and (dag_id, wave, task_id, map_index) in untrained:
            figures = (logged.decision["queries"], logged.decision["rows_fetched"])
            warm_figures[(dag_id, task_id, map_index)].add(figures)
    assert all(len(figures) == 1 for figures in warm_figures.values()), warm_figures
    filled_by = {(key[0], key[2], key[3]): example_runs.task_instances[key].hostname for key in first}
    elsewhere = [
        key
        for key in later
        if example_runs.task_instances[key].hostname != filled_by[(key[0], key[2], key[3])]
    ]
    assert elsewhere, "no later gate ran on the other worker than the one that filled its cache entries"


def test_a_gate_run_costs_the_warehouse_aggregates_not_rows(
    example_runs: ExampleRuns, warehouse_url: str
) -> None:
    story = "stable_harmless_drift"
    cold, warm = measure_gate_load(warehouse_url, story_policy(story, schema=story), DEMO_AS_OF)
    dag_id = f"retrain_gate_{story}"
    cold_run, warm_run = (
        example_runs.decisions[(dag_id, wave, GATE_TASK, -1)].decision for wave in WAVES[:2]
    )
    print(f"\nwarehouse load of the {story} gate (PostgreSQL, as measured):")
    for load in (cold, warm):
        print(f"  {load}")

    assert (cold.queries, cold.rows_fetched) == (cold_run["queries"], cold_run["rows_fetched"])
    assert (warm.queries, warm.rows_fetched) == (warm_run["queries"], warm_run["rows_fetched"])
    assert warm.queries < cold.queries and warm.bytes_scanned < cold.bytes_scanned
    for load in (cold, warm):  # the warehouse aggregates; the worker receives summaries
        assert load.rows_fetched * 20 < load.rows_scanned, load


def test_a_gate_whose_worker_dies_is_retried_on_the_other_worker_and_decides_once(
    lost_worker: LostWorker,
) -> None:
    assert lost_worker.run_state == "success"
    assert lost_worker.attempts == [(1, lost_worker.killed, "failed"), (2, lost_worker.survivor, "success")]
    assert lost_worker.heartbeat_timeouts == 1
    assert lost_worker.decisions == [(2, "train")]  # one row, written by the retry
    assert lost_worker.xcom_branches == ["train"]
    assert lost_worker.branch_states == {"fix_features": "skipped", "alert": "skipped", "train": "success"}
    # The killed attempt cached work before its held current-window query: the day parts of the reference
    # window (counted and cached before the current days) and whole profiles of other tables (computed side by
    # side, so how many depends on timing). The retry, on the other worker, merged those day parts and read
    # exactly those whole profiles from the cache, and computed the rest.
    whole = [entry for entry in lost_worker.cached_when_killed if entry[0] not in DAY_PART_KINDS]
    assert len(lost_worker.cached_when_killed) > len(whole), "no day part survived the kill"
    assert lost_worker.parts_reused >= 1
    assert lost_worker.profile_cache == {"hits": len(whole), "misses": CACHED_REFERENCE_PROFILES - len(whole)}
    assert len([entry for entry in lost_worker.cached_after if entry[0] not in DAY_PART_KINDS]) == (
        CACHED_REFERENCE_PROFILES
    )


def _parse_instance(name: str) -> tuple[str, int]:
    """`task_id` or `task_id[map_index]` (the summaries' naming) -> (task_id, map_index)."""
    if name.endswith("]"):
        task_id, index = name[:-1].split("[")
        return task_id, int(index)
    return name, -1


@pytest.fixture(scope="module")
def api(cluster: AirflowCluster) -> ApiClient:
    """The cluster's REST API, logged in as the compose file's admin."""
    client = ApiClient(cluster.endpoints.api_url, "admin", "admin")
    client.login()
    return client


@pytest.fixture(scope="module")
def example_runs(
    cluster: AirflowCluster, api: ApiClient, warehouse_url: str, tmp_path_factory: pytest.TempPathFactory
) -> ExampleRuns:
    """Three runs of each example DAG: the first wave alone (it builds the stories and fills the cache), then
    two waves at once, while `dag.test()` runs the same DAGs in a subprocess for the expected outcomes."""
    started = time.monotonic()
    cluster.wait_for_dags(DAG_IDS)
    wait_for_runs(cluster, api, [WAVES[0]])
    baseline = start_dag_test_baseline(cluster, tmp_path_factory.mktemp("dag_test"))
    try:
        wait_for_runs(cluster, api, list(WAVES[1:]))
        summaries = finish_dag_test_baseline(cluster, baseline)
    finally:
        if baseline.process.poll() is None:
            baseline.process.kill()
    print(f"\n{len(WAVES) * len(DAG_IDS)} example DAG runs finished in {time.monotonic() - started:.0f} s")
    keys = "dag_id, run_id, task_id, map_index"
    instances = cluster.query(
        f"SELECT {keys}, state, hostname, try_number FROM task_instance WHERE dag_id = ANY(:dags)",
        dags=DAG_IDS,
    )
    xcoms = cluster.query(
        f"SELECT {keys}, value ->> 'branch' AS branch FROM xcom WHERE key = 'retrain_gate_decision' "
        "AND dag_id = ANY(:dags)",
        dags=DAG_IDS,
    )
    state = sa.create_engine(warehouse_url)
    with state.connect() as connection:
        decisions = connection.execute(
            sa.text(
                f"SELECT {keys}, branch, try_number, decision_json FROM {DEFAULT_SCHEMA}.retrain_gate_decisions "
                "WHERE dag_id = ANY(:dags)"
            ),
            {"dags": DAG_IDS},
        ).all()
        cache = connection.execute(
            sa.text(
                f"SELECT kind, table_name, window_start, window_end FROM {DEFAULT_SCHEMA}.retrain_gate_profile_cache"
            )
        ).all()
    state.dispose()
    return ExampleRuns(
        run_states={
            (row.dag_id, row.run_id): row.state
            for row in cluster.query(
                "SELECT dag_id, run_id, state FROM dag_run WHERE dag_id = ANY(:dags)", dags=DAG_IDS
            )
        },
        task_instances={_key(row): row for row in instances},
        decisions={
            _key(row): LoggedDecision(row.branch, row.try_number, json.loads(row.decision_json))
            for row in decisions
        },
        xcom_branches={_key(row): row.branch for row in xcoms},
        cache=cache,
        baseline={summary["dag_id"]: summary for summary in summaries},
    )


def _key(row: Any) -> Key:
    return (row.dag_id, row.run_id, row.task_id, row.map_index)


def wait_for_runs(cluster: AirflowCluster, api: ApiClient, waves: list[str], within: float = 300) -> None:
    """Trigger every example DAG once per wave (run id = the wave) through the REST API; wait until all finish."""
    for wave in waves:
        for dag_id in DAG_IDS:
            api.trigger(dag_id, wave)

    def finished() -> bool:
        rows = cluster.query(
            "SELECT state FROM dag_run WHERE dag_id = ANY(:dags) AND run_id = ANY(:runs)",
            dags=DAG_IDS,
            runs=waves,
        )
        return len(rows) == len(DAG_IDS) * len(waves) and all(row.state in FINISHED for row in rows)

    cluster.wait_until(
        f"the runs {', '.join(waves)} of {', '.join(DAG_IDS)} to finish", finished, within=within, every=1
    )


@dataclass(frozen=True)
class Baseline:
    """A `dag.test()` run of the example DAGs in a subprocess of its own (SQLite metadata, SQLite gate state)."""

    process: subprocess.Popen[str]
    summaries: Path
    output: Path


def start_dag_test_baseline(cluster: AirflowCluster, home: Path) -> Baseline:
    """Start `python -m airflow_retrain_gate.demo.airflow_demo` on the cluster's warehouse, its gate state apart."""
    environment = {
        **clean_environment(),
        "RETRAIN_GATE_DEMO_HOME": str(home),
        f"AIRFLOW_CONN_{DEMO_WAREHOUSE_CONN_ID.upper()}": cluster.environment[
            f"AIRFLOW_CONN_{DEMO_WAREHOUSE_CONN_ID.upper()}"
        ],
        f"AIRFLOW_CONN_{DEMO_STATE_CONN_ID.upper()}": json.dumps(
            {
                "conn_type": "retrain_gate_warehouse",
                "extra": {"sqlalchemy_url": f"sqlite:///{home / 'state.sqlite'}"},
            }
        ),
    }
    summaries, output = home / "summaries.json", home / "output.log"
    with open(output, "w") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "airflow_retrain_gate.demo.airflow_demo",
                *DAG_IDS,
                "--summaries",
                str(summaries),
            ],
            env=environment,
            cwd=home,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
    return Baseline(process, summaries, output)


def finish_dag_test_baseline(cluster: AirflowCluster, baseline: Baseline) -> list[dict[str, Any]]:
    """Wait for the `dag.test()` runs; their summaries."""
    code = baseline.process.wait(timeout=max(cluster.remaining(), 1))
    assert code == 0, f"dag.test() of the example DAGs failed:\n{baseline.output.read_text()[-4000:]}"
    return list(json.loads(baseline.summaries.read_text()))


@dataclass(frozen=True)
class LostWorker:
    """The slow gate's run, whose worker was killed while the gate waited on the warehouse."""

    killed: str
    survivor: str
    run_state: str
    attempts: list[tuple[int, str, str]]
    """(try_number, hostname, state) of each attempt of the gate."""
    heartbeat_timeouts: int
    """How often the scheduler failed the gate for missing heartbeats (Airflow's audit log)."""
    decisions: list[tuple[int, str]]
    """(try_number, branch) of each decision log row of the gate."""
    profile_cache: dict[str, int]
    """Hits and misses of the logged decision."""
    xcom_branches: list[str]
    branch_states: dict[str, str]
    cached_when_killed: list[tuple[str, str]]
    """(kind, table) of the slow tables' cache entries (whole profiles and day parts) when the worker was killed."""
    cached_after: list[tuple[str, str]]
    parts_reused: int
    """Day parts of the features and the score that the logged decision merged from the cache."""


@pytest.fixture(scope="module")
def lost_worker(
    cluster: AirflowCluster, api: ApiClient, example_runs: ExampleRuns, warehouse_url: str
) -> Iterator[LostWorker]:
    """Kill the worker running the slow gate while the gate waits on the warehouse, release the warehouse, and
    wait for the run to finish. After the example runs, which need both workers."""
    warehouse = sa.create_engine(warehouse_url)
    create_slow_schema(warehouse)
    cluster.wait_for_dags([SLOW_DAG])
    api.trigger(SLOW_DAG, "lost_worker")
    cluster.wait_until(
        "the slow gate to wait on the warehouse", lambda: held_queries(warehouse) > 0, within=90
    )
    (gate,) = cluster.query(
        "SELECT state, hostname FROM task_instance WHERE dag_id = :dag AND task_id = :task",
        dag=SLOW_DAG,
        task=GATE_TASK,
    )
    assert gate.state == "running" and gate.hostname in cluster.components, gate
    cached_when_killed = _slow_cache(warehouse)
    cluster.kill(gate.hostname)
    killed_at = time.monotonic()
    release(warehouse)
    cluster.wait_until(
        "the slow gate's run to finish after its worker was killed",
        lambda: _one(
            cluster, "SELECT state FROM dag_run WHERE dag_id = :dag AND state IN ('success', 'failed')"
        ),
        within=HEARTBEAT_TIMEOUT_S + 90,
        every=1,
    )
    print(f"\n{gate.hostname} killed; the run finished {time.monotonic() - killed_at:.0f} s later")
    attempts = cluster.query(
        "SELECT try_number, hostname, state FROM task_instance_history WHERE dag_id = :dag AND task_id = :task "
        "UNION ALL SELECT try_number, hostname, state FROM task_instance WHERE dag_id = :dag AND task_id = :task "
        "ORDER BY try_number",
        dag=SLOW_DAG,
        task=GATE_TASK,
    )
    with warehouse.connect() as connection:
        decisions = connection.execute(
            sa.text(
                f"SELECT try_number, branch, decision_json FROM {DEFAULT_SCHEMA}.retrain_gate_decisions "
                "WHERE dag_id = :dag"
            ),
            {"dag": SLOW_DAG},
        ).all()
    yield LostWorker(
        killed=gate.hostname,
        survivor=next(name for name in cluster.workers if name != gate.hostname),
        run_state=_one(cluster, "SELECT state FROM dag_run WHERE dag_id = :dag").state,
        attempts=[(row.try_number, row.hostname, row.state) for row in attempts],
        heartbeat_timeouts=_one(
            cluster, "SELECT count(*) AS n FROM log WHERE dag_id = :dag AND event = 'heartbeat timeout'"
        ).n,
        decisions=[(row.try_number, row.branch) for row in decisions],
        profile_cache=json.loads(decisions[0].decision_json)["notes"]["profile_cache"] if decisions else {},
        parts_reused=json.loads(decisions[0].decision_json)["notes"]["day_parts"]["cached"]
        if decisions
        else 0,
        xcom_branches=[
            row.branch
            for row in cluster.query(
                "SELECT value ->> 'branch' AS branch FROM xcom WHERE dag_id = :dag AND key = :key",
                dag=SLOW_DAG,
                key="retrain_gate_decision",
            )
        ],
        branch_states={
            row.task_id: row.state
            for row in cluster.query(
                "SELECT task_id, state FROM task_instance WHERE dag_id = :dag AND task_id <> :task",
                dag=SLOW_DAG,
                task=GATE_TASK,
            )
        },
        cached_when_killed=cached_when_killed,
        cached_after=_slow_cache(warehouse),
    )
    warehouse.dispose()


def _one(cluster: AirflowCluster, sql: str) -> Any:
    """The single row of a query about the slow DAG, or None."""
    rows = cluster.query(sql, dag=SLOW_DAG)
    return rows[0] if rows else None


def _slow_cache(warehouse: sa.Engine) -> list[tuple[str, str]]:
    """(kind, table) of every cache entry of the slow schema's tables: whole profiles, day parts, baselines."""
    with warehouse.connect() as connection:
        rows = connection.execute(
            sa.text(
                f"SELECT kind, table_name FROM {DEFAULT_SCHEMA}.retrain_gate_profile_cache "
                "WHERE table_name LIKE :schema ORDER BY kind"
            ),
            {"schema": f"{SLOW_SCHEMA}.%"},
        ).all()
    return [(row.kind, row.table_name) for row in rows]


REVIEW_DAG = "retrain_gate_unanswered_review"


@dataclass(frozen=True)
class UnansweredReview:
    """A reviewed gate's run that nobody answered: task states and the gate's decision-log row."""

    run_state: str
    task_states: dict[str, str]
    logged_branch: str
    review: tuple[str | None, str | None]
    """(review_branch, review_by) of the gate's row."""


@pytest.fixture(scope="module")
def unanswered_review(
    cluster: AirflowCluster, api: ApiClient, example_runs: ExampleRuns, warehouse_url: str
) -> UnansweredReview:
    """Run the reviewed gate of the concept-drift story (built by the example runs) and let the review time out."""
    cluster.wait_for_dags([REVIEW_DAG])
    api.trigger(REVIEW_DAG, "nobody_answers")

    def finished() -> Any:
        rows = cluster.query("SELECT state FROM dag_run WHERE dag_id = :dag", dag=REVIEW_DAG)
        return rows[0].state if rows and rows[0].state in FINISHED else None

    run_state = cluster.wait_until("the unanswered review's run to finish", finished, within=90, every=1)
    states = cluster.query("SELECT task_id, state FROM task_instance WHERE dag_id = :dag", dag=REVIEW_DAG)
    warehouse = sa.create_engine(warehouse_url)
    with warehouse.connect() as connection:
        row = connection.execute(
            sa.text(
                f"SELECT branch, review_branch, review_by FROM {DEFAULT_SCHEMA}.retrain_gate_decisions "
                "WHERE dag_id = :dag"
            ),
            {"dag": REVIEW_DAG},
        ).one()
    warehouse.dispose()
    return UnansweredReview(
        run_state, {r.task_id: r.state for r in states}, row.branch, (row.review_branch, row.review_by)
    )


def test_a_review_nobody_answers_takes_its_timeout_branch_and_is_logged_without_a_reviewer(
    unanswered_review: UnansweredReview,
) -> None:
    assert unanswered_review.run_state == "success"
    assert unanswered_review.task_states == {
        "retrain_gate": "success",
        "review": "success",
        "page_oncall": "success",
        "train_model": "skipped",
        "fix_inputs": "skipped",
    }
    assert unanswered_review.logged_branch == "train"  # the gate's own decision stays as it was
    assert unanswered_review.review == ("alert", None)  # the timeout branch, answered by nobody
