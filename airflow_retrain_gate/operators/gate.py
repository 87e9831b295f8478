"""RetrainGateOperator: runs the gate and branches the DAG to fix_features, alert, train or nothing (skip)."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import replace
from datetime import datetime
from typing import Any, ClassVar

from airflow.sdk import Asset, AssetAlias, BaseBranchOperator, Context, conf
from airflow.sdk.exceptions import AirflowFailException
from pydantic import JsonValue

from airflow_retrain_gate.core import (
    Branch,
    Decision,
    DecisionLog,
    Policy,
    PolicyError,
    RunKey,
    StateStore,
    Status,
    Warehouse,
    WarehouseError,
    run_gate,
)
from airflow_retrain_gate.core.cooldown import settle_train
from airflow_retrain_gate.core.escaping import markdown_text
from airflow_retrain_gate.core.findings import Action, Finding
from airflow_retrain_gate.core.timeframes import parse_duration
from airflow_retrain_gate.hooks.warehouse import WarehouseHook
from airflow_retrain_gate.operators.arguments import (
    PolicyArgument,
    check_policy_at_parse,
    dag_folder,
    load_policy_argument,
    run_as_of,
)
from airflow_retrain_gate.operators.links import RetrainGateDecisionLink
from airflow_retrain_gate.sensors.readiness import XCOM_MISSED_KEY, ReadinessSensor

XCOM_DECISION_KEY = "retrain_gate_decision"
"""The XCom key under which the gate pushes its Decision (``Decision.to_dict()``)."""
TRAIN_ALIAS = AssetAlias("retrain_gate_train")
"""Every gate's outlet: asset events are added through it only when the branch is train."""
ROUTED_BRANCHES = (Branch.FIX_FEATURES.value, Branch.ALERT.value, Branch.TRAIN.value)
UNRECORDED_NOTE = "decision_log"
"""The decision's note saying what the state database did not record."""


def train_asset(policy_name: str) -> Asset:
    """The asset a gate updates when its policy decides train; schedule a training DAG on it."""
    return Asset(f"retrain-gate/{policy_name}")


def add_train_event(context: Context, asset: Asset, decision: Decision, **extra: Any) -> None:
    """Add an event for `asset` through the task's TRAIN_ALIAS outlet, with the decision's provenance as extra."""
    provenance: dict[str, JsonValue] = {
        "policy_name": decision.policy_name,
        "policy_sha256": decision.policy_sha256,
        "as_of": decision.as_of.isoformat(),
        "reasons": list(decision.reasons[:3]),
    }
    context["outlet_events"][TRAIN_ALIAS].add(asset, extra={**provenance, **extra})


class RetrainGateOperator(BaseBranchOperator):
    """Diagnoses the policy's tables and follows the branch the evidence calls for.

    ``fix_features``, ``alert`` and ``train`` lead to downstream task ids (the ``branches`` argument, then
    the policy's ``branches``, then a downstream task named like the branch); ``skip`` skips every
    downstream task. The decision goes to XCom (key ``retrain_gate_decision``), the task log and Rendered
    Templates (markdown source), the decision log, and on ``train`` an asset event (unless
    ``emit_train_asset=False``, when a RetrainGateReviewOperator emits it after a person confirms train). A state
    database that cannot be written does not fail the task: the decision still branches, and its note
    ``decision_log`` (XCom, markdown, an error in the task log) says what was not recorded. Readiness sensors
    directly upstream that gave up (``soft_fail``) are recorded as ``readiness`` findings; they do not change the
    branch.

    :param policy: policy YAML path (relative to the DAG file's folder) or the policy as a mapping (templated).
    :param warehouse_conn_id: connection of the warehouse to read (templated).
    :param state_conn_id: connection of the state database the decision log is written to; default: the
        warehouse connection (templated).
    :param as_of: instant the policy's windows end at; default: the run's data_interval_end (templated).
    :param branches: task id(s) per branch, e.g. ``{"train": "train_model", "alert": ["page", "ticket"]}``;
        wins over the policy's ``branches``.
    :param train_asset: asset updated on ``train``; default ``train_asset(policy name)``.
    :param emit_train_asset: emit the asset event on ``train``; turn off when a review follows the gate.
    """

    template_fields: Sequence[str] = (
        "policy",
        "warehouse_conn_id",
        "state_conn_id",
        "as_of",
        "decision_markdown",
    )
    # Airflow 3.3's UI ignores renderers (it guesses json, sql, bash, yaml or text and shows source); the
    # decision page behind the extra link is where the markdown is rendered.
    template_fields_renderers: ClassVar[dict[str, str]] = {"policy": "json"}
    operator_extra_links = (RetrainGateDecisionLink(),)
    overwrite_rtif_after_execution = True
    """Rendered Templates show the decision markdown set during execution."""
    ui_color = "#fbe9c6"

    def __init__(
        self,
        *,
        policy: PolicyArgument,
        warehouse_conn_id: str = WarehouseHook.default_conn_name,
        state_conn_id: str | None = None,
        as_of: str | datetime | None = None,
        branches: dict[str, str | list[str]] | None = None,
        train_asset: Asset | None = None,
        emit_train_asset: bool = True,
        **kwargs: Any,
    ) -> None:
        outlets = kwargs.pop("outlets", None) or []
        outlets = outlets if isinstance(outlets, list) else [outlets]
        super().__init__(outlets=[*outlets, TRAIN_ALIAS] if emit_train_asset else outlets, **kwargs)
        unknown = sorted(set(branches or {}) - set(ROUTED_BRANCHES))
        if unknown:
            raise ValueError(
                f"branches: unknown branch {unknown[0]!r} (map fix_features, alert or train; skip takes no task)"
            )
        self.policy = policy
        self.warehouse_conn_id = warehouse_conn_id
        self.state_conn_id = state_conn_id
        self.as_of = as_of
        self.branches = dict(branches or {})
        self.train_asset = train_asset
        self.emit_train_asset = emit_train_asset
        self.decision_markdown = ""
        check_policy_at_parse(policy, dag_folder(self))

    def choose_branch(self, context: Context) -> list[str] | None:
        """Run the gate, publish the decision, and return the task ids of its branch (None for skip)."""
        policy = self._load_policy()
        routes = self._routes(policy)
        ti = context["ti"]
        key = RunKey(ti.dag_id, ti.run_id, ti.task_id, ti.map_index if ti.map_index is not None else -1)
        with ExitStack() as engines:
            warehouse = self._warehouse = WarehouseHook(self.warehouse_conn_id).get_warehouse()
            engines.callback(warehouse.dispose)
            state = (
                WarehouseHook(self.state_conn_id).get_state_store()
                if self.state_conn_id
                else StateStore(warehouse.engine)
            )
            engines.callback(state.dispose)
            try:
                decision = run_gate(
                    policy, warehouse, run_as_of(context, self.as_of), state=state, run_key=key
                )
            except PolicyError as error:
                raise AirflowFailException(str(error)) from None
            decision = with_missed_readiness(decision, self._missed_readiness(context))
            decision = self._record(DecisionLog(state), key, decision, ti.try_number, policy)
        self._publish(context, decision)
        return self._follow(decision.branch, routes)

    def on_kill(self) -> None:
        """Cancel the gate's running warehouse queries when Airflow stops the task (its statement timeout is the
        server-side backstop)."""
        warehouse: Warehouse | None = getattr(self, "_warehouse", None)
        if warehouse is not None:
            warehouse.cancel()

    def _load_policy(self) -> Policy:
        try:
            return load_policy_argument(self.policy, dag_folder(self))
        except PolicyError as error:
            raise AirflowFailException(str(error)) from None

    def _record(
        self, log: DecisionLog, key: RunKey, decision: Decision, try_number: int, policy: Policy
    ) -> Decision:
        """Upsert the decision's row, then settle a train with gates of the same model that decided at the same
        time (``settle_train``: one keeps it, the others alert); when the state database cannot be written, the
        decision says so instead.

        The branch stands either way: a read-only state database must not stop the DAG, but on-call must see
        that the cooldown and the UI's history will not know this decision.
        """
        try:
            log.record(key, decision, try_number)
            cooldown = parse_duration(policy.cooldown) if policy.cooldown else None
            return settle_train(log, key, decision, cooldown, try_number)
        except WarehouseError as error:
            note = (
                f"not recorded in the decision log: the {decision.branch.value} decision of {key.dag_id}/"
                f"{key.run_id}/{key.task_id} (try {try_number}); the cooldown and the UI's history will not "
                f"see it. State database error: {error}"
            )
            self.log.error("%s", note)
            return replace(decision, notes={**decision.notes, UNRECORDED_NOTE: note})

    def _missed_readiness(self, context: Context) -> list[dict[str, Any]]:
        """What the readiness sensors directly upstream pushed when they gave up (none when all were ready)."""
        sensors = [
            task_id
            for task_id in sorted(self.upstream_task_ids)
            if isinstance(self.dag.get_task(task_id), ReadinessSensor)
        ]
        if not sensors:
            return []
        pulled = context["ti"].xcom_pull(task_ids=sensors, key=XCOM_MISSED_KEY)
        return [missed for missed in pulled if missed]

    def _publish(self, context: Context, decision: Decision) -> None:
        """XCom, log, Rendered Templates and, on train only, the asset event."""
        context["ti"].xcom_push(key=XCOM_DECISION_KEY, value=decision.to_dict())
        self.log.info("Retrain gate decision:\n%s", decision.to_markdown())
        self.decision_markdown = fitted_markdown(
            decision, conf.getint("core", "max_templated_field_length", fallback=4096)
        )
        if decision.branch is Branch.TRAIN and self.emit_train_asset:
            asset = self.train_asset or train_asset(decision.policy_name)
            add_train_event(context, asset, decision)
            self.log.info("Asset event for %s: the decision is train", asset.name)

    def _routes(self, policy: Policy) -> dict[str, list[str]]:
        """Task ids per branch (``branches``, the policy's, or a task named so), checked before the gate runs."""
        mapping = {**policy.branches.model_dump(exclude_none=True), **self.branches}
        routes = {}
        for branch in ROUTED_BRANCHES:
            if branch not in mapping:
                if (task_id := self._existing(branch)) is not None:
                    routes[branch] = [task_id]
                continue
            names = [mapping[branch]] if isinstance(mapping[branch], str) else mapping[branch]
            task_ids = {name: self._existing(name) for name in names}
            missing = [name for name, task_id in task_ids.items() if task_id is None]
            if missing:
                raise AirflowFailException(
                    f"branches.{branch}: task {missing[0]!r} is not in DAG {self.dag_id!r} "
                    f"(downstream of {self.task_id}: {', '.join(sorted(self.downstream_task_ids)) or 'none'})"
                )
            routes[branch] = [task_id for task_id in task_ids.values() if task_id is not None]
        return routes

    def _follow(self, branch: Branch, routes: dict[str, list[str]]) -> list[str] | None:
        """The task ids of the decided branch; None (skip everything downstream) for skip or an unrouted branch."""
        if branch is Branch.SKIP:
            return None
        if branch.value not in routes:
            self.log.warning(
                "No task is mapped to %s or named so: every downstream task is skipped.", branch.value
            )
            return None
        return routes[branch.value]

    def _existing(self, name: str) -> str | None:
        """`name` as a task id of the DAG, looked up inside this task's group first."""
        group_id = self.task_group.group_id if self.task_group is not None else None
        candidates = [f"{group_id}.{name}", name] if group_id else [name]
        return next((candidate for candidate in candidates if candidate in self.dag.task_ids), None)


def with_missed_readiness(decision: Decision, missed: list[dict[str, Any]]) -> Decision:
    """The decision with a ``readiness`` warning finding and a closing reason per sensor that gave up.

    A missed readiness limit is evidence for on-call, not a verdict: the branch stays the policy's.
    """
    if not missed:
        return decision
    findings = tuple(readiness_finding(entry) for entry in missed)
    reasons = tuple(finding.message for finding in findings)
    return replace(decision, findings=(*decision.findings, *findings), reasons=(*decision.reasons, *reasons))


def readiness_finding(missed: dict[str, Any]) -> Finding:
    """A warning naming the sensor that gave up, its limit and its last reading (the policy's checks decided)."""
    reading = missed.get("reading") or {}
    last = reading.get("message") or "it gave up before its first reading."
    return Finding(
        check="readiness",
        subject=missed["sensor"],
        status=Status.WARN,
        action=Action.NONE,
        message=f"Readiness sensor {missed['sensor']} ({missed['limit']}) gave up: {last} "
        "The gate judged with the policy's own limits.",
        value=reading.get("value"),
        threshold=reading.get("threshold"),
        evidence={"sensor": missed["sensor"], "limit": missed["limit"], "reading": reading},
    )


def fitted_markdown(decision: Decision, limit: int) -> str:
    """The decision's markdown and its notes, without passing findings when the whole would exceed `limit`."""
    markdown = decision.to_markdown() + notes_markdown(decision)
    if len(markdown) <= limit:
        return markdown
    notable = tuple(finding for finding in decision.findings if finding.status is not Status.PASS)
    omitted = len(decision.findings) - len(notable)
    note = (
        f"\n\n{omitted} passing findings are left out here; XCom `{XCOM_DECISION_KEY}` holds every finding."
    )
    return replace(decision, findings=notable).to_markdown() + notes_markdown(decision) + note


def notes_markdown(decision: Decision) -> str:
    """A "Notes" section of the decision's sentence notes (what was not recorded or cached), or nothing."""
    notes = [
        f"- **{key}**: {markdown_text(value)}"
        for key, value in decision.notes.items()
        if isinstance(value, str)
    ]
    return "\n\n### Notes\n\n" + "\n".join(notes) if notes else ""
