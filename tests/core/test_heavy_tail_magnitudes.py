"""Heavy-tailed features in a warehouse: the profiler counts each day's mean of ln|x| for the columns whose spread
strays by day, and scale_shift judges them on it, from a cold state and from cached day parts alike."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from test_day_parts import new_state, verdicts

from airflow_retrain_gate.core import StateStore, Warehouse, parse_policy, run_gate
from airflow_retrain_gate.core.decision import Decision
from airflow_retrain_gate.core.findings import Branch, Finding, Status
from airflow_retrain_gate.core.policy import Policy
from airflow_retrain_gate.core.profiling.features import ProfileSettings, profile_features
from airflow_retrain_gate.core.profiling.table_source import TableSource
from airflow_retrain_gate.core.timeframes import TimeWindow

AS_OF = datetime(2024, 6, 1, tzinfo=UTC)
PER_DAY = 400


@dataclass(frozen=True)
class Place:
    """Where the features table is written: a warehouse URL and a schema (None: the default one)."""

    url: str
    schema: str | None = None

    @property
    def policy(self) -> Policy:
        """The policy reading the place's features table."""
        table = f"{self.schema}.features" if self.schema else "features"
        features = {"table": table, "timestamp": "event_ts", "numeric": ["ratio", "amount", "level"]}
        return parse_policy({"name": "heavy_tails", "tables": {"features": features}})


@pytest.fixture(params=["duckdb", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def place(request: pytest.FixtureRequest, tmp_path: Path) -> Place:
    """An empty warehouse of each engine: each takes the logarithm in its own SQL."""
    if request.param == "postgresql":
        return Place(request.getfixturevalue("postgres_server"), request.getfixturevalue("postgres_schema"))
    return Place(f"{request.param}:///{tmp_path / 'warehouse.db'}")


def write_features(place: Place, seed: int, amount_factor: float = 1.0, rescaled_days: int = 0) -> None:
    """70 days of PER_DAY rows before AS_OF: a ratio of normals (both signs), a Pareto(0.5) amount from 1 and a
    normal level; the amount is multiplied by `amount_factor` on the last `rescaled_days` days."""
    rng = np.random.default_rng(seed)
    rows = 70 * PER_DAY
    start = AS_OF.replace(tzinfo=None) - timedelta(days=70)
    amount = 1.0 + rng.pareto(0.5, rows)
    amount[rows - rescaled_days * PER_DAY :] *= amount_factor
    frame = pd.DataFrame(
        {
            "event_ts": [start + timedelta(seconds=86400 * i / PER_DAY) for i in range(rows)],
            "ratio": rng.normal(1.0, 1.0, rows) / rng.normal(0.5, 1.0, rows),
            "amount": amount,
            "level": rng.normal(50.0, 10.0, rows),
        }
    )
    engine = sa.create_engine(place.url)
    with engine.begin() as connection:
        frame.to_sql("features", connection, schema=place.schema, index=False, if_exists="replace")
    engine.dispose()


def gate(place: Place, state: StateStore | None = None) -> Decision:
    """One gate run as of AS_OF."""
    warehouse = Warehouse(place.url, read_only=True)
    try:
        return run_gate(place.policy, warehouse, AS_OF, state=state)
    finally:
        warehouse.dispose()


def scale_findings(decision: Decision) -> dict[str, Finding]:
    """scale_shift's finding of each column, by column name."""
    return {f.subject.rsplit(".", 1)[1]: f for f in decision.findings if f.check == "scale_shift"}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_healthy_heavy_tailed_columns_keep_their_magnitude(tmp_path: Path, seed: int) -> None:
    place = Place(f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    write_features(place, seed)

    findings = scale_findings(gate(place))

    assert all(finding.status is Status.PASS for finding in findings.values()), findings
    assert (
        "(magnitude ratio" in findings["ratio"].message and "(magnitude ratio" in findings["amount"].message
    )
    assert "(spread ratio" in findings["level"].message  # a light tail pays for no logarithm


def test_only_columns_whose_spread_strays_get_log_magnitudes(tmp_path: Path) -> None:
    place = Place(f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    write_features(place, 0)
    warehouse = Warehouse(place.url, read_only=True)
    source = TableSource.bind(warehouse, place.policy.tables.features, "tables.features")
    window = TimeWindow("reference", AS_OF - timedelta(days=35), AS_OF)
    profile = profile_features(source, window, None, ProfileSettings())
    warehouse.dispose()

    logs = profile.numeric["amount"].daily_log_magnitudes
    assert len(logs) == 35 and all(day.count == PER_DAY for day in logs)
    # ln of a Pareto(0.5) value from 1 is exponential with mean 2.
    assert np.median([day.mean for day in logs]) == pytest.approx(2.0, abs=0.25)
    assert profile.numeric["ratio"].daily_log_magnitudes and not profile.numeric["level"].daily_log_magnitudes


@pytest.mark.parametrize("factor", [100.0, 0.01, 4.0])
def test_a_heavy_tailed_amount_rescaled_on_its_last_two_days_fails_cold_and_cached(
    place: Place, tmp_path: Path, factor: float
) -> None:
    """Judged on spreads this passed: a Pareto(0.5) day's spread strays 100x on its own."""
    write_features(place, 3, amount_factor=factor, rescaled_days=2)

    cold = gate(place)
    state = new_state(tmp_path, "state")
    first, cached = gate(place, state), gate(place, state)

    amount = scale_findings(cold)["amount"]
    assert cold.branch is Branch.FIX_FEATURES and amount.status is Status.FAIL, amount.message
    assert f"since {(AS_OF - timedelta(days=2)).date().isoformat()} values are about" in amount.message
    assert amount.value == pytest.approx(factor, rel=0.25)
    assert verdicts(first) == verdicts(cold) == verdicts(cached)
    assert cached.notes["day_parts"]["computed"] == 0  # type: ignore[index]
