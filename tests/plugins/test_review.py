"""The review operator as a DAG author meets it; test_airflow_ui.py answers a real review end to end."""

from __future__ import annotations

import pytest
from airflow_site import AirflowSite


def test_a_review_offers_the_four_branches_an_optional_comment_and_alerts_when_nobody_answers(
    airflow_in_process: AirflowSite,
) -> None:
    from airflow_retrain_gate.operators.gate import TRAIN_ALIAS
    from airflow_retrain_gate.operators.review import RetrainGateReviewOperator

    review = RetrainGateReviewOperator(
        task_id="review",
        gate_task_id="retrain_gate",
        branches={"train": "train_model", "alert": "page_oncall"},
    )

    assert review.options == ["fix_features", "alert", "train", "skip"]
    assert review.options_mapping == {"train": "train_model", "alert": "page_oncall"}
    assert review.timeout_branch == "alert"
    assert review.defaults is None  # the gate's branch is preselected when the review asks
    assert review.params.get_param("comment").serialize()["schema"]["type"] == ["null", "string"]
    assert review.outlets == [TRAIN_ALIAS]  # a confirmed train emits the asset event


def test_a_branch_the_gate_does_not_have_is_refused_when_the_dag_is_parsed(
    airflow_in_process: AirflowSite,
) -> None:
    from airflow_retrain_gate.operators.review import RetrainGateReviewOperator

    with pytest.raises(ValueError, match="unknown branch 'retrain'"):
        RetrainGateReviewOperator(
            task_id="review", gate_task_id="retrain_gate", branches={"retrain": "train_model"}
        )


def test_a_timeout_branch_that_is_not_a_branch_is_refused(airflow_in_process: AirflowSite) -> None:
    from airflow_retrain_gate.operators.review import RetrainGateReviewOperator

    with pytest.raises(ValueError, match="timeout_branch: 'retrain' is not a branch"):
        RetrainGateReviewOperator(
            task_id="review", gate_task_id="retrain_gate", branches={}, timeout_branch="retrain"
        )
