"""run_gate: profiles -> checks -> findings -> decision. The one entry point CLI, tests and operators call."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import replace
from datetime import UTC, datetime

from airflow_retrain_gate.core.checks import CHECK_RANK, REGISTRY
from airflow_retrain_gate.core.checks.context import CheckInputs, outcome
from airflow_retrain_gate.core.checks.registry import training_guards
from airflow_retrain_gate.core.decision import Decision, decide
from airflow_retrain_gate.core.decision_log import DecisionLog, RunKey, TrainsAround
from airflow_retrain_gate.core.findings import NOT_CONFIGURED, Action, Finding, Status
from airflow_retrain_gate.core.policy import Policy, PolicyError
from airflow_retrain_gate.core.profiling.builder import ProfileBuilder
from airflow_retrain_gate.core.profiling.cache import ProfileCache
from airflow_retrain_gate.core.profiling.features import ProfileSettings
from airflow_retrain_gate.core.profiling.kinds import ProfileKind
from airflow_retrain_gate.core.profiling.profile_set import ProfileSet
from airflow_retrain_gate.core.scans import tally_records
from airflow_retrain_gate.core.state import StateStore
from airflow_retrain_gate.core.timeframes import TimeWindow, parse_duration, resolve_instant, to_utc
from airflow_retrain_gate.core.warehouse import Warehouse, WarehouseError

log = logging.getLogger("airflow_retrain_gate")


def resolve_windows(policy: Policy, as_of: datetime) -> tuple[TimeWindow, TimeWindow]:
    """The reference and current windows of `policy` as absolute UTC ranges at `as_of`."""
    windows = []
    for name in ("reference", "current"):
        spec = getattr(policy.windows, name)
        try:
            start, end = resolve_instant(spec.start, as_of), resolve_instant(spec.end, as_of)
        except OverflowError:
            raise PolicyError(
                [f"windows.{name}: {spec.start}..{spec.end} reaches outside the calendar"]
            ) from None
        if start >= end:
            raise PolicyError(
                [f"windows.{name}: start {start.isoformat()} is not before end {end.isoformat()}"]
            )
        windows.append(TimeWindow(name, start, end))
    return windows[0], windows[1]


def decision_windows(policy: Policy, reference: TimeWindow, current: TimeWindow) -> dict[str, TimeWindow]:
    """The windows a decision shows; with a label delay, also those whose predictions' outcomes were judged."""
    windows = {"reference": reference, "current": current}
    if policy.windows.label_delay:
        judged = policy.windows.outcome_windows(reference, current)
        windows.update(outcomes_reference=judged[0], outcomes_current=judged[1])
    return windows


def evaluate_checks(inputs: CheckInputs, enabled: list[str]) -> list[Finding]:
    """Run each enabled check on the profiles; a check that cannot run yields an error finding."""
    findings: list[Finding] = []
    profiles = inputs.profiles
    for name in enabled:
        spec = REGISTRY[name]
        failed = [kind for kind in spec.reads if kind in profiles.errors]
        missing = [kind for kind in spec.reads if kind in profiles.unmapped]
        if failed:
            findings.append(outcome(name, failed[0].mapped_by, Status.ERROR, profiles.errors[failed[0]]))
            continue
        if missing:
            wanted = " and ".join(kind.mapped_by for kind in missing)
            findings.append(
                outcome(
                    name,
                    missing[0].mapped_by,
                    Status.INSUFFICIENT_DATA,
                    f"Not configured: map {wanted} in the policy to run {name}.",
                    evidence={NOT_CONFIGURED: wanted},
                )
            )
            continue
        try:
            findings.extend(map(finite_or_error, spec.evaluate(inputs, inputs.policy.check_settings(name))))
        except Exception as error:  # noqa: BLE001 - one broken check must not hide the others
            log.exception("check %s failed", name)
            findings.append(
                outcome(name, name, Status.ERROR, f"check {name} failed: {type(error).__name__}: {error}")
            )
    return findings


def finite_or_error(finding: Finding) -> Finding:
    """A passing or warning finding whose value is NaN or infinite becomes an error: it judged nothing."""
    if (
        finding.status not in (Status.PASS, Status.WARN)
        or finding.value is None
        or math.isfinite(finding.value)
    ):
        return finding
    statistic = finding.statistic or "statistic"
    return replace(
        finding,
        status=Status.ERROR,
        action=Action.NONE,
        message=f"{finding.subject}: {finding.check} computed {statistic} = {finding.value}, not a finite number, "
        f"so it judged nothing; look for extreme or corrupt values in {finding.subject}.",
    )


def run_gate(
    policy: Policy,
    warehouse: Warehouse,
    as_of: datetime | str | None = None,
    *,
    state: StateStore | None = None,
    run_key: RunKey | None = None,
    settings: ProfileSettings | None = None,
) -> Decision:
    """Diagnose the policy's tables at `as_of` (default now) and decide a branch.

    With a `state` store, reference profiles are cached there and the cooldown reads its decision log;
    recording the decision is the caller's step (`DecisionLog.record`), since only it knows the run.
    """
    started_at = datetime.now(UTC)
    warehouse.use_settings(policy.warehouse)
    clock = time.perf_counter()
    as_of_utc = to_utc(as_of) if as_of is not None else started_at
    reference, current = resolve_windows(policy, as_of_utc)
    enabled = [name for name in CHECK_RANK if policy.check_settings(name).enabled]
    kinds = {kind for name in enabled for kind in REGISTRY[name].reads} | {ProfileKind.EVENTS}
    queries_before = len(warehouse.query_log.records)
    cache = None
    state_note = None
    state_error: WarehouseError | None = None
    trains: TrainsAround | None = None
    if state is not None:
        try:
            state.migrate()
            # The last train decides which pinned bins apply (unread, no cached profile is used); the nearest one
            # the cooldown.
            trains = DecisionLog(state).trains_around(policy.name, as_of_utc, excluding=run_key)
            cache = ProfileCache(state)
        except WarehouseError as error:
            state_error = error
            state_note = f"state database unavailable, profiles not cached: {error}"
            log.warning(state_note)
    log.info("retrain gate %r: as_of %s, %d checks", policy.name, as_of_utc.isoformat(), len(enabled))
    expectations_runner = None
    if ProfileKind.EXPECTATIONS in kinds and policy.check_settings("expectations").suite is not None:
        from airflow_retrain_gate.core.expectations_runner import run_expectations

        expectations_runner = run_expectations
    # One snapshot of the tables: what one profile learnt of a table's days (the score's parts count the
    # predictions per day) the next does not read again (the outcome parts verify those days). At its end the
    # reads are done, and an embedded file is free for other uses in this process.
    with warehouse.held():
        profiles: ProfileSet = ProfileBuilder(
            warehouse,
            policy,
            reference,
            current,
            as_of_utc,
            cache,
            settings or ProfileSettings(),
            expectations_runner,
            trains.last_before if trains is not None else None,
        ).build(kinds)
    findings = evaluate_checks(CheckInputs(profiles, policy, as_of_utc, reference, current), enabled)
    # Scoped to the policy name, which names the model: every DAG gating the model shares one cooldown.
    nearest_train = trains.nearest if trains is not None else None
    if policy.cooldown and state is not None and trains is None:  # unreadable history is an error, not none
        findings.append(
            outcome(
                "cooldown",
                "decision log",
                Status.ERROR,
                f"cannot read the decision log for the cooldown: {state_error}",
            )
        )
    verdict = decide(
        findings,
        error_branch=policy.error_branch,
        action_overrides={name: Action(action) for name, action in policy.actions.items()},
        check_rank=CHECK_RANK,
        nearest_train_at=nearest_train,
        cooldown_s=parse_duration(policy.cooldown).total_seconds() if policy.cooldown else None,
        as_of=as_of_utc,
        training_guards=training_guards(enabled, profiles.unmapped),
        train_checks=[name for name in enabled if policy.action_for(name) is Action.TRAIN],
    )
    records = warehouse.query_log.records[queries_before:]
    queries = [record for record in records if record.catalog is None]
    notes: dict[str, object] = {}
    if cache is not None:
        notes["profile_cache"] = {"hits": cache.hits, "misses": cache.misses}
        notes["day_parts"] = {
            "cached": cache.parts_cached,
            "computed": cache.parts_computed,
            "recomputed_days": cache.recomputed_days,
        }
        if cache.joined_parts:
            notes["outcome_parts"] = cache.joined_parts
    if state_note:
        notes["state"] = state_note
    decision = Decision(
        branch=verdict.branch,
        reasons=verdict.reasons,
        findings=verdict.findings,
        policy_name=policy.name,
        policy_sha256=policy.sha256,
        as_of=as_of_utc,
        windows=decision_windows(policy, reference, current),
        started_at=started_at,
        duration_s=time.perf_counter() - clock,
        deciding_checks=verdict.deciding_checks,
        queries=len(queries),
        rows_fetched=sum(record.rows for record in queries),
        notes=notes,
        scans=tally_records(records, cache.answered if cache is not None else ()),
    )
    first_reason = verdict.reasons[0] if verdict.reasons else ""
    log.info("retrain gate %r decided %s: %s", policy.name, verdict.branch.value, first_reason)
    return decision
