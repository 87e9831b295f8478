"""RetrainGateReviewOperator: on-call confirms or overrides a gate's decision before the DAG acts on it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any

from airflow.providers.standard.exceptions import HITLTimeoutError
from airflow.providers.standard.operators.hitl import HITLBranchOperator
from airflow.sdk import Asset, Context, Param
from airflow.sdk.exceptions import AirflowFailException
from airflow.sdk.execution_time.hitl import HITLUser

from airflow_retrain_gate.core import Decision, DecisionLog, RunKey, WarehouseError
from airflow_retrain_gate.core.escaping import printable
from airflow_retrain_gate.core.findings import PRECEDENCE, Branch
from airflow_retrain_gate.hooks.warehouse import WarehouseHook
from airflow_retrain_gate.operators.gate import (
    TRAIN_ALIAS,
    XCOM_DECISION_KEY,
    add_train_event,
    notes_markdown,
    train_asset,
)
from airflow_retrain_gate.operators.links import decision_url

BRANCHES = [branch.value for branch in PRECEDENCE]
COMMENT = "comment"


class RetrainGateReviewOperator(HITLBranchOperator):
    """Asks a person to confirm or override the decision of an upstream gate, records the answer, follows it.

    The task waits in Airflow's Required Actions with the gate's headline, reasons and deciding findings as its
    body (and a link to the full evidence); the four branches are the options, the gate's branch preselected,
    and an optional ``comment``. The chosen branch and the reviewer go to the decision log (shown in the Retrain
    gate UI, and read by the cooldown); on ``train`` the task emits the train asset event (give the gate
    ``emit_train_asset=False``); then it branches to the task mapped to the chosen branch, or skips everything
    downstream for ``skip``. Route the gate's branches to this task
    (``branches={"fix_features": "review", "alert": "review", "train": "review"}``) and give the branch tasks to
    this one: a branch operator skips the direct downstream tasks it does not choose, so a task downstream of
    both the gate and the review would be skipped before anyone answers.

    :param gate_task_id: the RetrainGateOperator whose decision is reviewed (templated).
    :param branches: task id (or task group id) to run per chosen branch; ``skip`` runs none.
    :param state_conn_id: the state database the gate logs decisions to (templated).
    :param timeout_branch: branch taken when nobody answers within ``response_timeout`` (whatever was
        preselected); None fails the task then.
    :param train_asset: asset updated when the answer is ``train``; default ``train_asset(policy name)``.
    """

    template_fields: Sequence[str] = (*HITLBranchOperator.template_fields, "gate_task_id", "state_conn_id")

    def __init__(
        self,
        *,
        gate_task_id: str,
        branches: dict[str, str],
        state_conn_id: str = WarehouseHook.default_conn_name,
        timeout_branch: str | None = Branch.ALERT.value,
        response_timeout: timedelta | None = None,
        train_asset: Asset | None = None,
        **kwargs: Any,
    ) -> None:
        unknown = sorted(set(branches) - {Branch.FIX_FEATURES.value, Branch.ALERT.value, Branch.TRAIN.value})
        if unknown:
            raise ValueError(f"branches: unknown branch {unknown[0]!r} (map fix_features, alert or train)")
        if timeout_branch is not None and timeout_branch not in BRANCHES:
            raise ValueError(f"timeout_branch: {timeout_branch!r} is not a branch ({', '.join(BRANCHES)})")
        outlets = kwargs.pop("outlets", None) or []
        super().__init__(
            subject="Retrain gate: confirm or override the decision",
            options=BRANCHES,
            options_mapping=branches,
            params={
                COMMENT: Param(
                    None, type=["null", "string"], description="Why (optional); recorded in the decision log."
                )
            },
            response_timeout=response_timeout,
            outlets=[*(outlets if isinstance(outlets, list) else [outlets]), TRAIN_ALIAS],
            **kwargs,
        )
        self.gate_task_id = gate_task_id
        self.branches = branches
        self.state_conn_id = state_conn_id
        self.timeout_branch = timeout_branch
        self.train_asset = train_asset

    def execute(self, context: Context) -> Any:
        """Put the gate's decision in front of a person, its branch preselected, and wait for the answer."""
        decision = self._gate_decision(context)
        gate = self._gate_key(context)
        name = printable(decision.policy_name)  # no newline or escape code in a subject line
        self.subject = f"Retrain gate {name} decided {decision.branch.value}: confirm or override"
        self.body = review_body(
            decision, decision_url(gate.dag_id, gate.run_id, gate.task_id, gate.map_index)
        )
        # Airflow preselects the defaults in the form, and also answers with them at the timeout:
        # execute_complete turns a timed-out answer into timeout_branch.
        self.defaults = [decision.branch.value]
        return super().execute(context)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        """Record the reviewer's branch, emit the train asset event on train, then branch like HITLBranchOperator.

        The branch comes last: skipping the other tasks ends the task (Airflow raises to skip them).
        """
        if event.get("timedout"):
            if self.timeout_branch is None:
                raise HITLTimeoutError(f"Nobody reviewed the decision of {self.gate_task_id} in time.")
            event = {**event, "chosen_options": [self.timeout_branch]}
        # A form left empty may send no comment at all; Airflow requires every param in the answer.
        event = {**event, "params_input": {COMMENT: None, **(event.get("params_input") or {})}}
        self.validate_chosen_options(event["chosen_options"])
        branch = Branch(event["chosen_options"][0])
        reviewer: HITLUser | None = event.get("responded_by_user")
        self._record(context, branch.value, reviewer, event["params_input"][COMMENT])
        if branch is Branch.TRAIN:
            decision = self._gate_decision(context)
            asset = self.train_asset or train_asset(decision.policy_name)
            add_train_event(context, asset, decision, reviewed_by=reviewer["name"] if reviewer else None)
            self.log.info("Asset event for %s: the review answered train", asset.name)
        return super().execute_complete(context, event)

    def do_branch(self, context: Context, branches_to_execute: str | Iterable[str] | None) -> Any:
        """Follow the tasks mapped to the chosen branch; a branch without a task (``skip``) skips them all."""
        chosen = [branches_to_execute] if isinstance(branches_to_execute, str) else branches_to_execute or []
        tasks = [task for task in chosen if task in self.branches.values()]
        self.hitl_summary_extra["branches_to_execute"] = tasks
        return super().do_branch(context, tasks or None)

    def _gate_decision(self, context: Context) -> Decision:
        pushed = context["ti"].xcom_pull(task_ids=self.gate_task_id, key=XCOM_DECISION_KEY)
        if not pushed:
            raise AirflowFailException(
                f"gate_task_id: task {self.gate_task_id!r} pushed no decision (XCom {XCOM_DECISION_KEY!r}) in this run"
            )
        return Decision.from_dict(pushed)

    def _gate_key(self, context: Context) -> RunKey:
        """The gate's task instance: this run, the same map index."""
        ti = context["ti"]
        return RunKey(
            ti.dag_id, ti.run_id, self.gate_task_id, ti.map_index if ti.map_index is not None else -1
        )

    def _record(self, context: Context, branch: str, reviewer: HITLUser | None, comment: str | None) -> None:
        key = self._gate_key(context)
        name = reviewer["name"] if reviewer else None
        self.log.info("Review of %s: %s by %s", key, branch, name or "nobody (timeout)")
        state = WarehouseHook(self.state_conn_id).get_state_store()
        try:
            recorded = DecisionLog(state).record_review(key, branch, name, comment or None)
        except WarehouseError as error:
            recorded = False
            self.log.error("%s", error)
        finally:
            state.dispose()
        if not recorded:
            self.log.error(
                "The review (%s by %s) is not in the decision log of connection %s.",
                branch,
                name or "nobody",
                self.state_conn_id,
            )


def review_body(decision: Decision, evidence_url: str) -> str:
    """The review's markdown: headline, reasons and the deciding findings only, then the link to every finding."""
    deciding = tuple(decision.deciding_findings)
    others = len(decision.findings) - len(deciding)
    return (
        replace(decision, findings=deciding).to_markdown()
        + notes_markdown(decision)
        + f"\n\n{others} other findings, with charts: [the decision's evidence]({evidence_url})"
    )
