"""RetrainGateReviewOperator: on-call confirms or overrides a gate's decision before the DAG acts on it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from airflow.providers.standard.operators.hitl import HITLBranchOperator, HITLOperator
from airflow.sdk import Context, Param
from airflow.sdk.exceptions import AirflowFailException
from airflow.sdk.execution_time.hitl import HITLUser

from airflow_retrain_gate.core import Decision, DecisionLog, RunKey, WarehouseError
from airflow_retrain_gate.core.escaping import printable
from airflow_retrain_gate.core.findings import PRECEDENCE, Branch
from airflow_retrain_gate.hooks.warehouse import WarehouseHook
from airflow_retrain_gate.operators.gate import XCOM_DECISION_KEY, fitted_markdown
from airflow_retrain_gate.operators.links import decision_url

BRANCHES = [branch.value for branch in PRECEDENCE]
BODY_LIMIT = 16_000
"""Characters of decision markdown in the review body; passing findings are left out beyond it."""


class RetrainGateReviewOperator(HITLBranchOperator):
    """Asks a person to confirm or override the decision of an upstream gate, records the answer, follows it.

    The task waits in Airflow's Required Actions with the decision's markdown as its body; the options are
    the four branches and a ``comment`` field. The chosen branch and the reviewer go to the decision log
    (shown in the Retrain gate UI, and read by the cooldown); then the task branches like the gate would:
    to the task mapped to the chosen branch, or skips everything downstream for ``skip``. Route the gate's
    branches to this task (``branches={"fix_features": "review", "alert": "review", "train": "review"}``) and
    give the branch tasks to this one: a branch operator skips the direct downstream tasks it does not
    choose, so a task downstream of both the gate and the review would be skipped before anyone answers.

    :param gate_task_id: the RetrainGateOperator whose decision is reviewed (templated).
    :param branches: task id (or task group id) to run per chosen branch; ``skip`` runs none.
    :param state_conn_id: the state database the gate logs decisions to (templated).
    :param timeout_branch: branch taken when nobody answers within ``response_timeout``; None fails the task.
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
        **kwargs: Any,
    ) -> None:
        unknown = sorted(set(branches) - {Branch.FIX_FEATURES.value, Branch.ALERT.value, Branch.TRAIN.value})
        if unknown:
            raise ValueError(f"branches: unknown branch {unknown[0]!r} (map fix_features, alert or train)")
        super().__init__(
            subject="Retrain gate: confirm or override the decision",
            options=BRANCHES,
            options_mapping=branches,
            defaults=timeout_branch,
            params={"comment": Param("", type="string", description="Why; recorded in the decision log.")},
            response_timeout=response_timeout,
            **kwargs,
        )
        self.gate_task_id = gate_task_id
        self.branches = branches
        self.state_conn_id = state_conn_id

    def execute(self, context: Context) -> Any:
        """Put the gate's decision in front of a person and wait for the answer."""
        decision = self._gate_decision(context)
        gate = self._gate_key(context)
        name = printable(decision.policy_name)  # no newline or escape code in a subject line
        self.subject = f"Retrain gate {name} decided {decision.branch.value}: confirm or override"
        self.body = (
            fitted_markdown(decision, BODY_LIMIT)
            + f"\n\nEvidence and charts: {decision_url(gate.dag_id, gate.run_id, gate.task_id, gate.map_index)}"
        )
        return super().execute(context)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        """Record the reviewer's branch in the decision log, then branch to its task (none for skip)."""
        answer = HITLOperator.execute_complete(self, context, event)
        branch = answer["chosen_options"][0]
        self._record(context, branch, answer["responded_by_user"], answer["params_input"].get("comment"))
        return self.do_branch(context, self.branches.get(branch))

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
        self.log.info("Review of %s: %s by %s", key, branch, name or "nobody (timeout default)")
        state = WarehouseHook(self.state_conn_id).get_state_store()
        try:
            recorded = DecisionLog(state).record_review(key, branch, name, comment or None)
        except WarehouseError as error:
            recorded = False
            self.log.warning("%s", error)
        finally:
            state.dispose()
        if not recorded:
            self.log.warning("The review is not in the decision log of connection %s.", self.state_conn_id)
