"""Extreme finite values: moments that cannot overflow on any dialect, and scale_shift's corrupt-magnitude rule."""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from airflow_retrain_gate.core import Status, Warehouse, parse_policy
from airflow_retrain_gate.core.checks.scale_shift import EXTREME_ORDERS, extreme_values
from airflow_retrain_gate.core.moments import Moments
from airflow_retrain_gate.core.profiling.features import ProfileSettings, profile_features
from airflow_retrain_gate.core.profiling.table_source import TableSource
from airflow_retrain_gate.core.sql import SAFE_MAGNITUDE
from airflow_retrain_gate.core.timeframes import TimeWindow, to_utc
from airflow_retrain_gate.demo.loading import load_tables

START = to_utc("2024-05-01")
WINDOW = TimeWindow("current", START, START + timedelta(days=4))
EXTREMES = (1e160, -1e300, 1.7976931348623157e308, 1e121)


def moments_of(values: np.ndarray) -> Moments:
    """Exact moments of raw values, the way the warehouse aggregates them (extremes counted apart)."""
    safe = values[np.abs(values) <= SAFE_MAGNITUDE]
    return Moments(
        len(safe),
        float(safe.mean()),
        float(((safe - safe.mean()) ** 2).sum()),
        float(values.min()),
        float(values.max()),
        len(values) - len(safe),
    )


def features_frame(seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Four days of a normal feature with the EXTREMES among them, and the values as loaded."""
    rng = np.random.default_rng(seed)
    values = rng.normal(50.0, 10.0, 400)
    values[rng.choice(400, len(EXTREMES), replace=False)] = EXTREMES
    stamps = [START.replace(tzinfo=None) + timedelta(minutes=14.4 * index) for index in range(400)]
    return pd.DataFrame({"event_ts": stamps, "x": values}), values


def profile(url: str, schema: str | None = None) -> Moments:
    """The current-window moments of column x, profiled in the warehouse."""
    table = f"{schema}.extreme" if schema else "extreme"
    policy = parse_policy(
        {
            "name": "extreme",
            "tables": {"features": {"table": table, "timestamp": "event_ts", "numeric": ["x"]}},
        }
    )
    source = TableSource.bind(Warehouse(url), policy.tables.features, "tables.features")
    return profile_features(source, WINDOW, None, ProfileSettings()).numeric["x"].moments


def assert_like(measured: Moments, expected: Moments) -> None:
    assert (measured.count, measured.extreme) == (expected.count, expected.extreme) == (396, 4)
    assert measured.mean == pytest.approx(expected.mean, rel=1e-9)
    assert measured.std == pytest.approx(expected.std, rel=1e-6)
    assert (measured.minimum, measured.maximum) == (expected.minimum, expected.maximum)


@pytest.mark.parametrize("seed", [0, 1])
def test_duckdb_and_sqlite_moments_leave_extremes_out_of_the_sums(
    duckdb_url: str, sqlite_url: str, seed: int
) -> None:
    frame, values = features_frame(seed)
    for url in (duckdb_url, sqlite_url):
        load_tables(url, {"extreme": frame})
        assert_like(profile(url), moments_of(values))


@pytest.mark.postgres
def test_postgresql_moments_do_not_overflow(postgres_server: str, postgres_schema: str) -> None:
    frame, values = features_frame(2)
    load_tables(postgres_server, {"extreme": frame}, schema=postgres_schema)
    assert_like(profile(postgres_server, postgres_schema), moments_of(values))


def test_combining_days_keeps_extremes_and_ranges() -> None:
    only_extreme = Moments.from_aggregates(0, None, None, 1e300, 1e300, 1)
    normal = Moments.from_aggregates(3, 2.0, 2 / 3, 1.0, 3.0)
    combined = Moments.combine_all([normal, only_extreme, Moments()])
    assert (combined.count, combined.mean, combined.extreme, combined.maximum) == (3, 2.0, 1, 1e300)
    assert combined.variance == pytest.approx(1.0)
    assert Moments.combine_all([only_extreme, normal]) == combined


def test_cached_moments_of_either_shape_are_read() -> None:
    moments = Moments(3, 2.0, 2.0, 1.0, 1e300, 1)
    assert Moments.from_list(moments.to_list()) == moments
    assert Moments.from_list([3, 2.0, 2.0, 1.0, 3.0]) == Moments(3, 2.0, 2.0, 1.0, 3.0, 0)


@pytest.mark.parametrize("value", [1e100, 1e160, 1e300, -1e308])
def test_corrupt_magnitudes_fail_scale_shift(value: float) -> None:
    rng = np.random.default_rng(7)
    reference = moments_of(rng.lognormal(3, 1, 5000))
    current_values = rng.lognormal(3, 1, 1000)
    current_values[:10] = value
    finding = extreme_values("features.x", reference, moments_of(current_values))
    assert finding is not None and finding.status is Status.FAIL
    assert finding.message.startswith(f"Column features.x holds corrupt values: up to {abs(value):.3g}")
    assert math.isfinite(finding.value or math.nan) and (finding.value or 0) > EXTREME_ORDERS


@pytest.mark.parametrize("seed", range(40))
def test_heavy_tails_and_unit_changes_are_not_corrupt_magnitudes(seed: int) -> None:
    """Pareto (index 1) and lognormal features, and a x1000 unit change, are not corrupt magnitudes."""
    rng = np.random.default_rng(seed)
    pareto_reference, pareto_current = rng.pareto(1.0, 28_000) + 1, rng.pareto(1.0, 7_000) + 1
    assert extreme_values("f.p", moments_of(pareto_reference), moments_of(pareto_current)) is None
    lognormal_reference = rng.lognormal(0, 2, 28_000)
    rescaled = rng.lognormal(0, 2, 7_000) * 1000  # grams to milligrams: scale_shift's business
    assert extreme_values("f.l", moments_of(lognormal_reference), moments_of(rescaled)) is None
