"""The corpus of bad warehouse data: the train story broken in one way at a time, and what the gate must say.

Each case loads the story's tables under its own prefix, breaks them (a pandas edit before loading, SQL
after, or a policy edit), and names the outcome the gate must reach. None of them may train.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd

Frames = dict[str, pd.DataFrame]
CURRENT = "event_ts >= TIMESTAMP '2024-05-25'"
"""SQL: rows of the current window (as_of 2024-06-01, window -7d..0d)."""


class Outcome(StrEnum):
    """What the gate must do with a bad input (none of them is train)."""

    ON_ERROR = "error finding, takes on_error"
    FIX_FEATURES = "fails a data check, fix_features"
    NOT_JUDGED = "insufficient_data finding, not train"


@dataclass(frozen=True)
class BadData:
    """One way to break the story, and the finding that must say so."""

    name: str
    outcome: Outcome
    says: str
    """A fragment of the finding's message (it names the field, table or column)."""
    frames: Callable[[Frames], None] | None = None
    sql: str | None = None
    """DuckDB statements run after loading; ``{t}`` is the case's table prefix."""
    policy: Callable[[dict[str, Any]], None] | None = None
    as_of: str | None = None


def _current(frame: pd.DataFrame, column: str = "event_ts") -> pd.Series:
    return frame[column] >= pd.Timestamp("2024-05-25")


def _all_null_label(frames: Frames) -> None:
    frames["outcomes"]["outcome"] = np.nan


def _stale_but_future_rows(frames: Frames) -> None:
    features = frames["features"]
    fresh = features[features["event_ts"] < pd.Timestamp("2024-05-28")]
    future = fresh.tail(300).assign(event_ts=pd.Timestamp("2099-01-01"))
    frames["features"] = pd.concat([fresh, future])


def _labels_known_in_the_future(frames: Frames) -> None:
    frames["outcomes"]["label_ts"] = pd.Timestamp("2099-01-01")


def _empty(frames: Frames) -> None:
    for name in frames:
        frames[name] = frames[name].iloc[:0]


def _one_row(frames: Frames) -> None:
    for name in frames:
        frames[name] = frames[name].iloc[:1]


def _text(column: str, table: str, fmt: str) -> Callable[[Frames], None]:
    def edit(frames: Frames) -> None:
        frames[table][column] = frames[table][column].map(fmt.format)

    return edit


def _null(column: str, table: str) -> Callable[[Frames], None]:
    def edit(frames: Frames) -> None:
        frames[table][column] = None

    return edit


def _set(section: str, field: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(policy: dict[str, Any]) -> None:
        policy["tables"][section][field] = value

    return edit


def _on_error_skip_without_features(policy: dict[str, Any]) -> None:
    policy["on_error"] = "skip"
    policy["tables"]["features"]["table"] = "features_v2"


CORPUS: tuple[BadData, ...] = (
    BadData(
        "missing table",
        Outcome.ON_ERROR,
        "tables.outcomes.table: table 'outcome' not found",
        policy=_set("outcomes", "table", "outcome"),
    ),
    BadData(
        "missing column",
        Outcome.ON_ERROR,
        "tables.outcomes.label: column 'label' not found",
        policy=_set("outcomes", "label", "label"),
    ),
    BadData(
        "missing schema",
        Outcome.ON_ERROR,
        "tables.predictions.table: table 'scoring.predictions' not found in schema 'scoring'",
        policy=_set("predictions", "table", "scoring.predictions"),
    ),
    BadData(
        "missing filter column",
        Outcome.ON_ERROR,
        "tables.predictions.filters.model: column 'model' not found",
        policy=_set("predictions", "filters", {"model": "fraud-scorer"}),
    ),
    BadData(
        "feature table missing, on_error: skip",
        Outcome.ON_ERROR,
        "tables.features.table: table 'features_v2' not found",
        policy=_on_error_skip_without_features,
    ),
    BadData(
        "empty current window (data stops a week early)",
        Outcome.FIX_FEATURES,
        "is stale",
        as_of="2024-06-08T00:00:00Z",
    ),
    BadData(
        "no rows in either window",
        Outcome.ON_ERROR,
        "no rows in the reference or the current window",
        as_of="2030-01-01T00:00:00Z",
    ),
    BadData(
        "empty tables", Outcome.ON_ERROR, "no rows in the reference or the current window", frames=_empty
    ),
    BadData(
        "one row per table",
        Outcome.ON_ERROR,
        "no rows in the reference or the current window",
        frames=_one_row,
    ),
    BadData(
        "all-null feature in the current window",
        Outcome.FIX_FEATURES,
        "basket_value is entirely NULL in the current window",
        sql="UPDATE {t}features SET basket_value = NULL WHERE " + CURRENT,
    ),
    BadData(
        "all-null feature in both windows",
        Outcome.FIX_FEATURES,
        "tenure_score is entirely NULL in the current window (it was 100.0% NULL before)",
        sql="UPDATE {t}features SET tenure_score = NULL",
    ),
    BadData(
        "all-null feature loaded without a type",
        Outcome.FIX_FEATURES,
        'tenure_score is now "NULL", but the policy uses it as a number',
        frames=_null("tenure_score", "features"),
    ),
    BadData(
        "all-null label",
        Outcome.NOT_JUDGED,
        "only 0 matured labels in the reference window",
        frames=_all_null_label,
    ),
    BadData(
        "NaN in a fifth of a feature's current values",
        Outcome.FIX_FEATURES,
        "basket_value: NULL share rose from 0.0% to 20",
        sql="UPDATE {t}features SET basket_value = 'NaN'::DOUBLE WHERE " + CURRENT + " AND entity_id % 5 = 0",
    ),
    BadData(
        "+infinity in a fifth of a feature's current values",
        Outcome.FIX_FEATURES,
        "basket_value: NULL share rose from 0.0% to 20",
        sql="UPDATE {t}features SET basket_value = 'Infinity'::DOUBLE WHERE "
        + CURRENT
        + " AND entity_id % 5 = 0",
    ),
    BadData(
        "NaN in every feature value, both windows",
        Outcome.FIX_FEATURES,
        "tenure_score is entirely NULL in the current window",
        sql="UPDATE {t}features SET tenure_score = 'NaN'::DOUBLE",
    ),
    BadData(
        "NaN in every label",
        Outcome.NOT_JUDGED,
        "only 0 matured labels in the reference window",
        sql="UPDATE {t}outcomes SET outcome = 'NaN'::DOUBLE",
    ),
    BadData(
        "infinite labels for the current window",
        Outcome.NOT_JUDGED,
        "only 0 matured labels in the current window",
        sql="UPDATE {t}outcomes SET outcome = 'Infinity'::DOUBLE WHERE entity_id IN "
        "(SELECT entity_id FROM {t}predictions WHERE " + CURRENT + ")",
    ),
    BadData(
        "NaN in every score",
        Outcome.FIX_FEATURES,
        "predictions[model_name = 'fraud-scorer'].score is entirely NULL in the current window",
        sql="UPDATE {t}predictions SET score = 'NaN'::DOUBLE",
    ),
    BadData(
        "-infinity in a fifth of the current scores",
        Outcome.FIX_FEATURES,
        "predictions[model_name = 'fraud-scorer'].score: NULL share rose from 0.0% to 20.0%",
        sql="UPDATE {t}predictions SET score = '-Infinity'::DOUBLE WHERE "
        + CURRENT
        + " AND entity_id % 5 = 0",
    ),
    BadData(
        "NULL in a fifth of the current scores",
        Outcome.FIX_FEATURES,
        "predictions[model_name = 'fraud-scorer'].score: NULL share rose from 0.0% to 20.0%",
        sql="UPDATE {t}predictions SET score = NULL WHERE " + CURRENT + " AND entity_id % 5 = 0",
    ),
    BadData(
        "rows dated 2099 in a stale feature table",
        Outcome.FIX_FEATURES,
        "is stale",
        frames=_stale_but_future_rows,
    ),
    BadData(
        "labels known only in 2099",
        Outcome.NOT_JUDGED,
        "only 0 matured labels in the reference window",
        frames=_labels_known_in_the_future,
    ),
    BadData(
        "current window after as_of (start 0d, end 7d)",
        Outcome.FIX_FEATURES,
        "during the current window",
        policy=lambda policy: policy["windows"].update(current={"start": "0d", "end": "7d"}),
    ),
    BadData(
        "NULL label timestamps",
        Outcome.NOT_JUDGED,
        "only 0 matured labels in the reference window",
        sql="UPDATE {t}outcomes SET label_ts = NULL",
    ),
    BadData(
        "NULL prediction timestamps",
        Outcome.NOT_JUDGED,
        "only 0 matured labels in the reference window",
        sql="UPDATE {t}predictions SET event_ts = NULL",
    ),
    BadData(
        "label timestamps loaded without a type",
        Outcome.ON_ERROR,
        """tables.outcomes.label_timestamp: column 'label_ts' of table '{t}outcomes' has type "NULL"; """
        "the policy uses it as a timestamp",
        frames=_null("label_ts", "outcomes"),
    ),
    BadData(
        "NULL entity keys (nothing joins)",
        Outcome.NOT_JUDGED,
        "only 0 matured labels in the reference window",
        sql="UPDATE {t}predictions SET entity_id = NULL",
    ),
    BadData(
        # The whole column is text in both windows and no cached profile recorded it as a number: a policy
        # mistake as far as the gate can tell (with a cached numeric reference it is fix_features: test_policy_roles).
        "text in a numeric feature",
        Outcome.ON_ERROR,
        "tables.features.numeric[1]: column 'basket_value' of table '{t}features' is VARCHAR; the policy uses it "
        "as a number",
        frames=_text("basket_value", "features", "{:.2f} EUR"),
    ),
    BadData(
        "text in the label column",
        Outcome.ON_ERROR,
        "tables.outcomes.label: column 'outcome' of table '{t}outcomes' has type VARCHAR; the policy uses it as a number",
        frames=_text("outcome", "outcomes", "{:.0f}"),
    ),
    BadData(
        "text in the score column",
        Outcome.ON_ERROR,
        "tables.predictions.score: column 'score' of table '{t}predictions' has type VARCHAR",
        frames=_text("score", "predictions", "{:.4f}"),
    ),
    BadData(
        "text in the timestamp column",
        Outcome.ON_ERROR,
        "tables.features.timestamp: column 'event_ts' of table '{t}features' is VARCHAR; the policy uses it as a "
        "timestamp",
        frames=_text("event_ts", "features", "{}"),
    ),
    BadData(
        "a number where a timestamp belongs",
        Outcome.ON_ERROR,
        "tables.overrides.timestamp: column 'entity_id' of table '{t}overrides' has type BIGINT; the policy uses it as a timestamp",
        policy=_set("overrides", "timestamp", "entity_id"),
    ),
    BadData(
        "SQL in a table name",
        Outcome.ON_ERROR,
        "table 'features; DROP TABLE victim' not found",
        policy=_set("features", "table", "features; DROP TABLE victim"),
    ),
    BadData(
        "SQL in a column name",
        Outcome.ON_ERROR,
        "tables.predictions.score: column 'score FROM victim --' not found",
        policy=_set("predictions", "score", "score FROM victim --"),
    ),
    BadData(
        "SQL in a filter value (bound, matches nothing)",
        Outcome.ON_ERROR,
        "selects no rows in table {t}predictions in the reference or the current window",
        policy=_set("predictions", "filters", {"model_name": "x' OR '1'='1"}),
    ),
)
