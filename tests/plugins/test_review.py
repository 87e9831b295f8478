"""The review operator as a DAG author meets it; test_airflow_ui.py answers a real review end to end."""

from __future__ import annotations

import pytest
from airflow_site import AirflowSite


def test_a_review_offers_the_four_branches_a_comment_and_alerts_when_nobody_answers(
    airflow_in_process: AirflowSite,
) -> None:
    from airflow_retrain_gate.operators.review import RetrainGateReviewOperator

    review = RetrainGateReviewOperator(
        task_id="review",
        gate_task_id="retrain_gate",
        branches={"train": "train_model", "alert": "page_oncall"},
    )

    assert review.options == ["fix_features", "alert", "train", "skip"]
    assert review.options_mapping == {"train": "train_model", "alert": "page_oncall"}
    assert review.defaults == ["alert"]
    assert "comment" in review.params


def test_a_branch_the_gate_does_not_have_is_refused_when_the_dag_is_parsed(
    airflow_in_process: AirflowSite,
) -> None:
    from airflow_retrain_gate.operators.review import RetrainGateReviewOperator

    with pytest.raises(ValueError, match="unknown branch 'retrain'"):
        RetrainGateReviewOperator(
            task_id="review", gate_task_id="retrain_gate", branches={"retrain": "train_model"}
        )
