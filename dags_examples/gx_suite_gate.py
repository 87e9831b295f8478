"""A feature team's Great Expectations suite gates retraining: broken promises route to fix_features.

``suites/features_contract.json`` is the team's GX 1.x suite, as GX itself wrote it: row count, NULLs, value
ranges, the intent taxonomy, tenure quantiles. Each model's policy names it under ``checks.expectations.suite``
(a path relative to this file's folder), and the gate validates it on the current window of the model's
feature table. A failed expectation routes the model to fix_features with the expectation's evidence (type,
column, observed value, expected bounds, unexpected share, GX's own result) in the decision; a suite that
passes leaves the branch to the other checks. The suite's tenure quantiles are tagged ``distribution`` and
map to alert: a shifted distribution is a person's call, not a broken pipeline.

Here each model's tables are one story's schema of the demo warehouse, built around 2024-06-01:

- fraud-eu (healthy): the suite passes, nothing else calls for action: skip.
- fraud-us (concept drift): the suite passes, the outcomes changed: train, as without the suite.
- fraud-apac (basket values arrive in cents): ``expect_column_values_to_be_between`` fails: fix_features.
- fraud-latam (the feature pipeline stopped three days ago): the row count fails: fix_features.

The demo warehouse is DuckDB, where GX validates the window's rows in pandas (at most ``max_rows``); on
PostgreSQL or SQLite it validates through a SQL query asset and the database computes every metric.

The gate and its branch tasks are mapped over the models, so map index i of each is model i (as in
``retrain_gate_platform_policy``). The policies are named ``<model>-gx``: the platform example gates the same
tables as ``fraud-*``, and one model name has one cooldown, whichever DAG gates it.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG

from airflow_retrain_gate.demo.catalog import DEMO_AS_OF
from airflow_retrain_gate.demo.example_tasks import WORK_BY_BRANCH, ingest, respond
from airflow_retrain_gate.demo.provision import DEMO_STATE_CONN_ID, DEMO_WAREHOUSE_CONN_ID
from airflow_retrain_gate.demo.stories import story_policy
from airflow_retrain_gate.operators.gate import RetrainGateOperator

MODELS = {
    "fraud-eu": "healthy",
    "fraud-us": "concept_drift",
    "fraud-apac": "scale_change",
    "fraud-latam": "pipeline_lag",
}
"""Model name -> the demo warehouse schema holding its features, predictions and outcomes."""

EXPECTATIONS = {
    "suite": "suites/features_contract.json",
    "action_by_tag": {"distribution": "alert"},
}
"""The expectations check's settings, the same for every model: the feature team's contract."""


def model_policy(model: str, schema: str) -> dict[str, Any]:
    """A model's policy: its tables, every check's defaults, and the feature team's suite."""
    return {
        **story_policy(schema, schema=schema),
        "name": f"{model}-gx",
        "checks": {"expectations": EXPECTATIONS},
    }


with DAG(
    dag_id="retrain_gate_gx_suite",
    description="A Great Expectations suite as a gate check: broken promises route to fix_features",
    doc_md=__doc__,
    schedule=None,
    params={"as_of": DEMO_AS_OF.isoformat()},
    tags=["retrain-gate", "example", "great-expectations"],
):
    gate = RetrainGateOperator.partial(
        task_id="retrain_gate",
        warehouse_conn_id=DEMO_WAREHOUSE_CONN_ID,
        state_conn_id=DEMO_STATE_CONN_ID,
        as_of="{{ params.as_of }}",
        map_index_template="{{ task.policy['name'] }}",
    ).expand(policy=[model_policy(model, schema) for model, schema in MODELS.items()])
    ingest(list(MODELS.values())) >> gate
    for branch in WORK_BY_BRANCH:
        gate >> respond.override(task_id=branch, map_index_template="{{ task.op_kwargs['model'] }}").partial(
            branch=branch
        ).expand(model=list(MODELS))
