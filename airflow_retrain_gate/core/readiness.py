"""Readiness probes the sensors poll: is the feature table fresh for an instant, have enough outcomes matured.

A probe holds only plain, serialisable inputs (so a trigger can carry it) and measures with one small
aggregate query built from the same table sources and joins the gate's profiles use.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from airflow_retrain_gate.core.checks.freshness import FreshnessSettings
from airflow_retrain_gate.core.checks.label_maturity import LabelMaturitySettings
from airflow_retrain_gate.core.findings import json_safe
from airflow_retrain_gate.core.gate import resolve_windows
from airflow_retrain_gate.core.policy import (
    FeaturesTable,
    OutcomesTable,
    Policy,
    PolicyError,
    PredictionsTable,
)
from airflow_retrain_gate.core.profiling.freshness import latest_timestamp
from airflow_retrain_gate.core.profiling.outcomes import join_outcomes
from airflow_retrain_gate.core.profiling.table_source import TableSource
from airflow_retrain_gate.core.timeframes import TimeWindow, format_duration, parse_duration, to_utc
from airflow_retrain_gate.core.warehouse import Warehouse


@dataclass(frozen=True)
class Reading:
    """One measurement of a probe: whether the data is ready, and a sentence saying why."""

    ready: bool
    message: str
    value: float | None = None
    """The measured quantity (lag in seconds, matured share)."""
    threshold: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form, for XCom and trigger events."""
        return json_safe(
            {"ready": self.ready, "message": self.message, "value": self.value, "threshold": self.threshold}
        )


@dataclass(frozen=True)
class FeatureFreshnessProbe:
    """Ready when the feature table has a row no older than `max_lag` before `as_of`."""

    features: FeaturesTable
    as_of: datetime
    max_lag: timedelta
    lookback: timedelta
    """How far back the newest row is searched for (the gate's own lookback: back to the earliest window)."""

    kind = "feature_freshness"

    @classmethod
    def for_policy(cls, policy: Policy, as_of: datetime, max_lag: str | None = None) -> FeatureFreshnessProbe:
        """The probe of a policy's feature table; `max_lag` defaults to the policy's `checks.freshness.max_lag`."""
        settings: FreshnessSettings = policy.check_settings("freshness")
        reference, current = resolve_windows(policy, as_of)
        lookback = as_of - min(reference.start, current.start)
        return cls(policy.tables.features, as_of, parse_duration(max_lag or settings.max_lag), lookback)

    def measure(self, warehouse: Warehouse) -> Reading:
        """Query the newest feature timestamp and compare its lag with `max_lag`."""
        source = TableSource.bind(warehouse, self.features, "tables.features")
        latest = latest_timestamp(source, self.as_of, self.lookback)
        table = self.features.table
        allowed = format_duration(self.max_lag)
        if latest is None:
            since = (self.as_of - self.lookback).isoformat()
            return Reading(
                False,
                f"Table {table} has no rows between {since} and {self.as_of.isoformat()}.",
                None,
                self.max_lag.total_seconds(),
            )
        lag = max(self.as_of - latest, timedelta(0))  # a DATE dated today reaches past as_of
        ready = lag <= self.max_lag
        verdict = "fresh" if ready else "not fresh yet"
        message = f"Table {table} is {verdict}: newest rows reach {latest.isoformat()}, {format_duration(lag)} before {self.as_of.isoformat()} (allowed {allowed})."
        return Reading(ready, message, lag.total_seconds(), self.max_lag.total_seconds())

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON inputs, the inverse of `probe_from_dict`."""
        return {
            "kind": self.kind,
            "features": self.features.model_dump(mode="json"),
            "as_of": self.as_of.isoformat(),
            "max_lag_s": self.max_lag.total_seconds(),
            "lookback_s": self.lookback.total_seconds(),
        }


@dataclass(frozen=True)
class LabelMaturityProbe:
    """Ready when at least `min_share` of the predictions made in `window` have an outcome known by `as_of`."""

    predictions: PredictionsTable
    outcomes: OutcomesTable
    window: TimeWindow
    as_of: datetime
    min_share: float

    kind = "label_maturity"

    @classmethod
    def for_policy(
        cls, policy: Policy, as_of: datetime, min_share: float | None = None
    ) -> LabelMaturityProbe:
        """The probe of the window whose outcomes the policy judges (the current window, moved back by
        `windows.label_delay`); `min_share` defaults to `checks.label_maturity.min_share`."""
        tables = policy.tables
        missing = [name for name in ("predictions", "outcomes") if getattr(tables, name) is None]
        if missing:
            raise PolicyError(
                [
                    f"tables.{missing[0]}: required key is missing (label maturity joins tables.predictions to tables.outcomes)"
                ]
            )
        settings: LabelMaturitySettings = policy.check_settings("label_maturity")
        _, current = policy.windows.outcome_windows(*resolve_windows(policy, as_of))
        assert tables.predictions is not None and tables.outcomes is not None
        return cls(
            tables.predictions,
            tables.outcomes,
            current,
            as_of,
            settings.min_share if min_share is None else min_share,
        )

    def measure(self, warehouse: Warehouse) -> Reading:
        """Count the window's predictions and those joined to an outcome known by `as_of`."""
        predictions = TableSource.bind(warehouse, self.predictions, "tables.predictions")
        outcomes = TableSource.bind(warehouse, self.outcomes, "tables.outcomes")
        joined = join_outcomes(predictions, outcomes, self.window, self.as_of)
        query = (
            sa.select(
                sa.func.count().label("predictions"),
                sa.func.sum(sa.case((joined.known, 1), else_=0)).label("matured"),
            )
            .select_from(joined.source)
            .where(*joined.where)
        )
        row = warehouse.fetch(query, f"label maturity {self.predictions.table}", joined.scans)[0]
        total, matured = int(row.predictions or 0), int(row.matured or 0)
        span = f"{self.window.start.isoformat()} to {self.window.end.isoformat()}"
        if total == 0:
            return Reading(
                False, f"Table {self.predictions.table} has no predictions from {span}.", None, self.min_share
            )
        share = matured / total
        ready = share >= self.min_share
        verdict = "matured" if ready else "not matured yet"
        message = (
            f"Outcomes {verdict}: {matured} of {total} predictions from {span} ({share:.1%}) have an outcome "
            f"known by {self.as_of.isoformat()} (need {self.min_share:.0%})."
        )
        return Reading(ready, message, share, self.min_share)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON inputs, the inverse of `probe_from_dict`."""
        return {
            "kind": self.kind,
            "predictions": self.predictions.model_dump(mode="json"),
            "outcomes": self.outcomes.model_dump(mode="json"),
            "window": self.window.to_dict(),
            "as_of": self.as_of.isoformat(),
            "min_share": self.min_share,
        }


Probe = FeatureFreshnessProbe | LabelMaturityProbe


def probe_from_dict(data: dict[str, Any]) -> Probe:
    """Rebuild a probe from its `to_dict` form (a trigger's serialised argument)."""
    kind = data.get("kind")
    if kind == FeatureFreshnessProbe.kind:
        return FeatureFreshnessProbe(
            FeaturesTable.model_validate(data["features"]),
            to_utc(data["as_of"]),
            timedelta(seconds=data["max_lag_s"]),
            timedelta(seconds=data["lookback_s"]),
        )
    if kind == LabelMaturityProbe.kind:
        window = data["window"]
        return LabelMaturityProbe(
            PredictionsTable.model_validate(data["predictions"]),
            OutcomesTable.model_validate(data["outcomes"]),
            TimeWindow("current", to_utc(window["start"]), to_utc(window["end"])),
            to_utc(data["as_of"]),
            float(data["min_share"]),
        )
    raise ValueError(
        f"unknown readiness probe kind {kind!r} (known: {FeatureFreshnessProbe.kind}, {LabelMaturityProbe.kind})"
    )
