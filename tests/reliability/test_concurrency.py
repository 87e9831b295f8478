"""Twenty gates at once on PostgreSQL: one state database migrated once, every decision logged once, every
cached reference profile whole, and no process left waiting on another."""

from __future__ import annotations

import json
import multiprocessing
import traceback
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from airflow_retrain_gate.core import (
    Branch,
    Decision,
    DecisionLog,
    LogQuery,
    RunKey,
    StateStore,
    Warehouse,
    parse_policy,
    run_gate,
)
from airflow_retrain_gate.core.cooldown import settle_train
from airflow_retrain_gate.core.profiling.cache import QUERY_VERSION
from airflow_retrain_gate.core.profiling.profiles import (
    KeyDayPart,
    OutcomeDayPart,
    OutcomeLabelStamp,
    ResidualDayPart,
    from_jsonable,
    to_jsonable,
)
from airflow_retrain_gate.demo.catalog import DEMO_AS_OF

from .gates import train_policy

GATES = 20
SAME_TASK_ATTEMPTS = 4
"""Gates 0..3 also write one shared task instance, as overlapping attempts of one task would."""
SHARED = RunKey("fraud", "scheduled__2024-06-01", "shared_gate")
COOLDOWN = timedelta(days=7)
"""The train policy's cooldown: every gate gates one model, so only one of them may train."""

pytestmark = pytest.mark.postgres


def run_key(index: int) -> RunKey:
    """The task instance gate `index` stands for: one mapped task of one DAG run."""
    return RunKey("fraud", "scheduled__2024-06-01", "gate", map_index=index)


def gate_process(url: str, schema: str, state_schema: str, index: int, start: Any, results: Any) -> None:
    """One gate in its own process: wait for the others, diagnose, record (twice, as a retry would)."""
    try:
        # One query at a time: 20 gates x 2 profiles x 2 day parts, plus their state connections, would pass
        # the test server's max_connections (100) and fail with "too many clients", which is not what this tests.
        warehouse, state = Warehouse(url, concurrency=1), StateStore(url, schema=state_schema)
        start.wait(timeout=60)
        decision = run_gate(
            parse_policy(train_policy(schema=schema)),
            warehouse,
            DEMO_AS_OF,
            state=state,
            run_key=run_key(index),
        )
        log = DecisionLog(state)
        log.record(run_key(index), decision, try_number=1)
        log.record(run_key(index), decision, try_number=2)
        decision = settle_train(log, run_key(index), decision, COOLDOWN, try_number=2)
        if index < SAME_TASK_ATTEMPTS:
            log.record(SHARED, replace(decision, policy_name="shared"), try_number=index + 1)
        results.put((index, decision.to_json(indent=None)))
        warehouse.dispose()
        state.dispose()
    except Exception:  # noqa: BLE001 - the parent reports what went wrong in the child
        results.put((index, traceback.format_exc()))


@pytest.fixture
def state_schema(postgres_server: str) -> Iterator[str]:
    """A state schema name nobody created yet: the gates race to migrate it."""
    name = f"state_{uuid.uuid4().hex[:10]}"
    yield name
    engine = sa.create_engine(postgres_server)
    with engine.begin() as connection:
        connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
    engine.dispose()


def run_gates_in_parallel(url: str, schema: str, state_schema: str) -> dict[int, Decision]:
    """Start GATES processes at one barrier; return each one's decision, failing on any error or hang."""
    # A fork server, not fork: it forks from a fresh process, never from one whose other threads hold locks.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    start, results = context.Barrier(GATES), context.Queue()
    processes = [
        context.Process(target=gate_process, args=(url, schema, state_schema, index, start, results))
        for index in range(GATES)
    ]
    for process in processes:
        process.start()
    outputs = dict(results.get(timeout=180) for _ in processes)
    for process in processes:
        process.join(timeout=30)
    hung = [process.pid for process in processes if process.is_alive()]
    for process in processes:
        if process.is_alive():
            process.kill()
    assert not hung, f"gate processes {hung} did not finish"
    failures = {index: text for index, text in outputs.items() if not text.startswith("{")}
    assert not failures, failures
    return {index: Decision.from_dict(json.loads(text)) for index, text in outputs.items()}


def test_twenty_gates_log_every_decision_once_and_cache_whole_profiles(
    postgres_server: str, train_schema: str, state_schema: str
) -> None:
    decisions = run_gates_in_parallel(postgres_server, train_schema, state_schema)
    assert sorted(decisions) == list(range(GATES))
    branches = [decision.branch for decision in decisions.values()]
    assert branches.count(Branch.TRAIN) == 1, "one model, one cooldown: exactly one of the 20 gates trains"
    assert branches.count(Branch.ALERT) == GATES - 1

    state = StateStore(postgres_server, schema=state_schema)
    log = DecisionLog(state)
    entries = log.history(LogQuery(dag_ids=["fraud"]), limit=100)
    assert sorted((e.key.task_id, e.key.map_index) for e in entries) == sorted(
        [("gate", index) for index in range(GATES)] + [("shared_gate", -1)]
    )
    for index, decision in decisions.items():
        logged = log.get(run_key(index))
        assert logged is not None and logged.entry.try_number == 2
        assert logged.decision.to_dict() == decision.to_dict()
    shared = log.get(SHARED)
    assert shared is not None and 1 <= shared.entry.try_number <= SAME_TASK_ATTEMPTS

    with state.reading() as connection:
        versions = connection.execute(sa.select(state.tables["version"].c.version)).scalars().all()
        cached = connection.execute(sa.select(state.tables["cache"])).mappings().all()
    assert sorted(versions) == sorted(set(versions)), "a migration was applied twice"
    profiles = sorted(
        (row["kind"], row["table_name"], row["window_start"], row["window_end"]) for row in cached
    )
    assert profiles == sorted(set(profiles)), "a profile or day part was cached twice"
    assert {"features", "outcomes", "overrides", "training_signals"} <= {profile[0] for profile in profiles}
    for row in cached:
        assert row["query_version"] == QUERY_VERSION
        assert to_jsonable(from_jsonable(json.loads(row["profile_json"]))) == json.loads(row["profile_json"])

    uncached = run_gate(
        parse_policy(train_policy(schema=train_schema)), Warehouse(postgres_server), DEMO_AS_OF
    )
    from_cache = run_gate(
        parse_policy(train_policy(schema=train_schema)), Warehouse(postgres_server), DEMO_AS_OF, state=state
    )
    # The rest are day parts (of the features, the scores, the outcomes, the residuals and the row keys),
    # baselines and the outcomes' stamp.
    parts = OutcomeDayPart | OutcomeLabelStamp | ResidualDayPart | KeyDayPart | dict
    whole = [
        row
        for row in cached
        if row["kind"] not in ("features", "predictions")
        and not isinstance(from_jsonable(json.loads(row["profile_json"])), parts)
    ]
    assert from_cache.notes["profile_cache"] == {"hits": len(whole), "misses": 0}
    # One of the 20 gates trained: this later run pins new bins from its reference window, so the reference
    # days of the features and the scores are profiled again; they came out as before, so the current days'
    # parts, counted on the same bins, come from the cache.
    assert from_cache.notes["day_parts"] == {"cached": 2 * 7, "computed": 2 * 28, "recomputed_days": {}}
    assert [f.to_dict() for f in from_cache.findings] == [f.to_dict() for f in uncached.findings]
    state.dispose()


def test_an_engine_on_one_shared_connection_runs_the_queries_one_at_a_time(
    postgres_server: str, train_schema: str
) -> None:
    """A StaticPool hands every thread the same connection: the gate must not interleave transactions on it."""
    policy = parse_policy(train_policy(schema=train_schema))
    shared = Warehouse(sa.create_engine(postgres_server, poolclass=sa.pool.StaticPool))
    pooled = Warehouse(postgres_server)
    assert (shared.concurrency, pooled.concurrency) == (1, 2)

    on_shared, on_pooled = (run_gate(policy, warehouse, DEMO_AS_OF) for warehouse in (shared, pooled))

    assert on_shared.branch == on_pooled.branch == Branch.TRAIN
    assert [f.to_dict() for f in on_shared.findings] == [f.to_dict() for f in on_pooled.findings]
    shared.dispose()
    pooled.dispose()
