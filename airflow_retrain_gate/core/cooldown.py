"""One train per model and cooldown, also between gates that decided at the same moment.

The gate reads the decision log before it decides, so a gate that decides after another one's train is
logged alerts (core/decision.py). Two gates of one model that run at the same time (two DAGs on one
schedule) both read an empty log; after logging its train each one checks again, one at a time per model,
and yields (alerts) if another's train stands: exactly one keeps it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from airflow_retrain_gate.core.decision import Decision
from airflow_retrain_gate.core.decision_log import DecisionLog, RunKey
from airflow_retrain_gate.core.findings import Branch
from airflow_retrain_gate.core.timeframes import format_duration


def settle_train(
    log: DecisionLog, key: RunKey, decision: Decision, cooldown: timedelta | None, try_number: int = 1
) -> Decision:
    """The logged `decision` of `key`, turned to alert (and logged so) when another task instance's train of
    the same model within the cooldown stands in the log; any other decision as it is.

    Runs serialised per model, so of gates that logged their train at the same moment exactly one keeps it.
    """
    if decision.branch is not Branch.TRAIN or cooldown is None:
        return decision
    with log.serialised(f"cooldown:{decision.policy_name}") as connection:
        other = log.other_train_within(
            connection, key, decision.policy_name, decision.as_of - cooldown, decision.as_of + cooldown
        )
        if other is None:
            return decision
        reason = (
            f"Cooldown: {other.dag_id}.{other.task_id}"
            + (f"[{other.map_index}]" if other.map_index >= 0 else "")
            + f" (run {other.run_id}) decided train for {decision.policy_name} at the same time "
            f"(cooldown {format_duration(cooldown)}), so this run alerts instead of retraining again."
        )
        settled = replace(decision, branch=Branch.ALERT, reasons=(reason, *decision.reasons))
        log.write(connection, key, settled, try_number)
    return settled
