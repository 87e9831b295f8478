"""A multiclass profile built by hand: each class against the rest is a 0/1 outcome profile, and the model-wide
numbers and the stray-label check read the same counts."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from airflow_retrain_gate.core.checks.label_domain import LabelDomainSettings, class_break
from airflow_retrain_gate.core.checks.multiclass import accuracy, log_loss, macro_auc
from airflow_retrain_gate.core.profiling.profiles import MulticlassProfile
from airflow_retrain_gate.core.timeframes import TimeWindow

CLASSES = ("legit", "fraud", "chargeback")
# One day, score edges 0 / 0.5 / 1: slots are underflow, [0, 0.5), [0.5, 1], overflow.
MATURED = ((0.0, 10.0, 10.0, 0.0),)
POSITIVES = ((0.0, 2.0, 8.0, 0.0),)
"""Of 10 rows per score bin, 2 of the class below 0.5 and 8 above: AUC (64 + 16 / 2) / 100 = 0.8."""


def profile(*, stray: float = 1.0, with_log_loss: bool = True) -> MulticlassProfile:
    return MulticlassProfile(
        window=TimeWindow("current", datetime(2024, 5, 31, tzinfo=UTC), datetime(2024, 6, 1, tzinfo=UTC)),
        classes=CLASSES,
        score_edges=(0.0, 0.5, 1.0),
        days=("2024-05-31",),
        matured=(MATURED,) * 3,
        positives=(POSITIVES,) * 3,
        daily={
            "n": (25.0,),
            "matured": (20.0 + stray,),
            "in_classes": (20.0,),
            "correct": (15.0,),
            "log_loss": (10.0,),
            "stray": (stray,),
        },
        has_log_loss=with_log_loss,
        stray_labels=(("FRAUD", int(stray)),) if stray else (),
    )


def test_each_class_against_the_rest_is_a_binary_profile() -> None:
    fraud = profile().one_vs_rest(CLASSES.index("fraud"))
    assert fraud.label_kind == "binary" and fraud.matured == 20
    assert fraud.by_bin("label_sum").tolist() == [0.0, 2.0, 8.0, 0.0]
    assert fraud.by_bin("matured").tolist() == [0.0, 10.0, 10.0, 0.0]


def test_macro_auc_accuracy_and_log_loss_come_from_the_counts() -> None:
    assert macro_auc(profile()) == pytest.approx(0.8)
    assert accuracy(profile()) == pytest.approx(0.75)
    assert log_loss(profile()) == pytest.approx(0.5)
    assert math.isnan(log_loss(profile(with_log_loss=False)))  # a predicted class alone has no log loss


def test_labels_outside_the_classes_break_the_domain_beyond_the_allowed_share() -> None:
    broken = class_break(profile(), LabelDomainSettings(), "outcomes.outcome")
    assert broken is not None and broken.value == pytest.approx(1 / 21)
    assert "are none of the classes (legit, fraud, chargeback), e.g. 'FRAUD' (1)" in broken.message
    assert class_break(profile(), LabelDomainSettings(max_stray_share=0.1), "outcomes.outcome") is None
    assert class_break(profile(stray=0.0), LabelDomainSettings(), "outcomes.outcome") is None
    assert class_break(None, LabelDomainSettings(), "outcomes.outcome") is None
