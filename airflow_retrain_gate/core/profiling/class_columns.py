"""SQL expressions of a multiclass model: the predicted class, its confidence, each class's score, and the
label's class, from either form the policy maps (a score column per class, or a predicted class with its
confidence in `score`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.expression import ColumnElement

from airflow_retrain_gate.core.policy import ClassValue
from airflow_retrain_gate.core.profiling.table_schema import NUMERIC_KINDS, MappingError
from airflow_retrain_gate.core.profiling.table_source import TableSource

STRAY_CLASS = -1
"""The class index of a known label that is none of the policy's classes."""
NOT_PREDICTED = -1.0
"""The score a class gets where the model predicted another class (predicted_class form): below every
probability, so those rows rank below the class's own predictions."""


def _class_literal(source: TableSource, field: str, column: str, value: ClassValue) -> ColumnElement[Any]:
    """A class value as a literal comparable with `column`: a number for a numeric column, text otherwise."""
    if source.kind(column) not in NUMERIC_KINDS:
        return sa.literal(str(value), sa.String)
    try:
        return sa.literal(float(value), sa.Double)
    except ValueError:
        raise MappingError(
            f"{source.section}.{field}",
            f"column {column!r} holds numbers, but class {value!r} is not a number",
        ) from None


def _index_of(source: TableSource, field: str, column: str, classes: list[ClassValue]) -> ColumnElement[Any]:
    """SQL: the index of the column's value in `classes`, STRAY_CLASS for another value, NULL for NULL."""
    value = source.named(column, field)
    if source.kind(column) == "boolean":
        value = sa.case((value.is_(None), sa.null()), (value, 1.0), else_=0.0)
    elif source.kind(column) not in NUMERIC_KINDS:
        value = sa.cast(value, sa.String)
    return sa.case(
        (value.is_(None), sa.null()),
        *[
            (value == _class_literal(source, field, column, name), index)
            for index, name in enumerate(classes)
        ],
        else_=STRAY_CLASS,
    )


def _at_max(scores: list[ColumnElement[Any]], values: list[Any]) -> ColumnElement[Any]:
    """SQL: the value of the class with the highest score (the first on ties); NULL when a score is NULL. Each
    WHEN is reached only when the maximum lies among the classes not yet tried, so beating the later ones
    suffices."""
    last = len(scores) - 1
    return sa.case(
        (sa.or_(*[score.is_(None) for score in scores]), sa.null()),
        *[
            (sa.and_(*[scores[index] >= later for later in scores[index + 1 :]]), values[index])
            for index in range(last)
        ],
        else_=values[last],
    )


@dataclass(frozen=True)
class ClassColumns:
    """Per row of predictions joined to outcomes: the label's class index, the predicted class index, its
    confidence, and each class's score (a probability)."""

    classes: tuple[str, ...]
    label_class: ColumnElement[Any]
    """Index of the label in `classes`; STRAY_CLASS for a value outside them; NULL while unknown."""
    predicted_class: ColumnElement[Any]
    confidence: ColumnElement[Any]
    class_scores: tuple[ColumnElement[Any], ...]
    true_class_score: ColumnElement[Any] | None
    """The score of the label's class (only with a score per class: log loss needs it)."""

    @classmethod
    def bind(cls, predictions: TableSource, outcomes: TableSource) -> ClassColumns:
        """The expressions of the policy's multiclass mapping over the bound tables."""
        classes = list(outcomes.mapping.classes or ())  # type: ignore[attr-defined]
        mapping = predictions.mapping
        label_class = _index_of(outcomes, "label", outcomes.mapping.label, classes)  # type: ignore[attr-defined]
        class_scores_columns = getattr(mapping, "class_scores", None)
        if class_scores_columns:
            by_name = {str(name): column for name, column in class_scores_columns.items()}
            scores = [predictions.number(f"class_scores.{name}", by_name[str(name)]) for name in classes]
            predicted = _at_max(scores, list(range(len(scores))))
            confidence = _at_max(scores, scores)
            true_score = sa.case(*[(label_class == index, score) for index, score in enumerate(scores)])
            return cls(
                tuple(map(str, classes)), label_class, predicted, confidence, tuple(scores), true_score
            )
        predicted = _index_of(predictions, "predicted_class", mapping.predicted_class, classes)  # type: ignore[attr-defined]
        confidence = predictions.number("score", mapping.score)  # type: ignore[attr-defined]
        scores = [
            sa.case((predicted == index, confidence), else_=sa.literal(NOT_PREDICTED, sa.Double))
            for index in range(len(classes))
        ]
        return cls(tuple(map(str, classes)), label_class, predicted, confidence, tuple(scores), None)

    def correct(self, label_known: ColumnElement[bool]) -> ColumnElement[Any]:
        """SQL: 1 where the known label is the predicted class, 0 where it is not, NULL while unknown."""
        return sa.case(
            (sa.not_(label_known) | self.label_class.is_(None), sa.null()),
            ((self.label_class == self.predicted_class) & (self.label_class != STRAY_CLASS), 1.0),
            else_=0.0,
        )
