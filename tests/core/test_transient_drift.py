"""Transient drift needs days that carry a material change: a loan purpose the reference never saw, on one
row of a few small weekend days, is not transient drift (it reached `alert` before), while a real burst of
one purpose on three days still is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from airflow_retrain_gate.core import Branch, Decision, Status, Warehouse, parse_policy, run_gate
from airflow_retrain_gate.core.drift_analysis import material_divergence
from airflow_retrain_gate.core.findings import Finding
from airflow_retrain_gate.core.stats import psi
from airflow_retrain_gate.demo.catalog import DEMO_AS_OF
from airflow_retrain_gate.demo.loading import load_tables
from airflow_retrain_gate.demo.stories import build_story, story_policy

AS_OF = datetime(2024, 6, 1, tzinfo=UTC)
PURPOSES = [
    "debt_consolidation",
    "credit_card",
    "home_improvement",
    "car",
    "medical",
    "small_business",
    "wedding",
]
PURPOSE_SHARES = [0.4, 0.22, 0.14, 0.1, 0.07, 0.05, 0.02]
SEED = 5
"""A seed on which the gate before this rule alerted ('drifted only on 1 of 28 days: transient')."""


def loan_applications(burst_days: int) -> pd.DataFrame:
    """84 days of applications (1,500 on weekdays, 60 on weekends). In the last 28 days, about half the weekend
    days carry one application for 'solar_panels', a purpose the reference never had (5 rows in all, 0.02%);
    `burst_days` weekdays put 40% of their applications on 'car'."""
    rng = np.random.default_rng(SEED)
    days = []
    for offset in range(1, 85):
        day = AS_OF - timedelta(days=offset)
        rows = 60 if day.weekday() >= 5 else 1500
        purpose = rng.choice(PURPOSES, size=rows, p=PURPOSE_SHARES).astype(object)
        if offset <= 28 and day.weekday() >= 5 and rng.uniform() < 0.5:
            purpose[0] = "solar_panels"
        if offset in (3, 4, 5)[:burst_days]:
            purpose[: int(0.4 * rows)] = "car"
        times = day + pd.to_timedelta(rng.uniform(0, 86400, rows), unit="s")
        days.append(
            pd.DataFrame({"applied_at": times, "purpose": purpose, "amount": rng.lognormal(9, 0.5, rows)})
        )
    return pd.concat(days, ignore_index=True)


def broken_loan_applications() -> pd.DataFrame:
    """The applications without a burst, with half the amounts NULL on 2024-05-22 and 70% of 2024-05-20's rows
    missing: a spike and a partial day that the adjustment over days and columns must still catch."""
    frame = loan_applications(burst_days=0)
    day = frame.applied_at.dt.strftime("%Y-%m-%d")
    spiked = (day == "2024-05-22") & (np.arange(len(frame)) % 2 == 0)
    frame.loc[spiked, "amount"] = np.nan
    thinned = (day == "2024-05-20") & (np.arange(len(frame)) % 10 >= 3)
    return frame[~thinned]


TABLES = {
    "plain": lambda: loan_applications(0),
    "burst": lambda: loan_applications(3),
    "broken": broken_loan_applications,
}


@pytest.fixture(scope="module")
def decisions(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Decision]:
    """The gate's decision on each loan table."""
    url = f"duckdb:///{tmp_path_factory.mktemp('loans') / 'loans.duckdb'}"
    load_tables(url, {name: build() for name, build in TABLES.items()})
    return {name: run_gate(parse_policy(loan_policy(name)), Warehouse(url), AS_OF) for name in TABLES}


def loan_policy(table: str) -> dict[str, object]:
    """Four weeks against the eight before them."""
    return {
        "name": "loans",
        "windows": {"reference": {"start": "-84d", "end": "-28d"}, "current": {"start": "-28d", "end": "0d"}},
        "tables": {
            "features": {
                "table": table,
                "timestamp": "applied_at",
                "numeric": ["amount"],
                "categorical": ["purpose"],
            }
        },
    }


def finding(decision: Decision, check: str, column: str) -> Finding:
    [found] = [f for f in decision.findings if f.check == check and f.subject.endswith(f".{column}")]
    return found


def test_a_rare_new_value_on_small_days_is_not_transient_drift(decisions: dict[str, Decision]) -> None:
    decision = decisions["plain"]

    assert decision.branch is Branch.SKIP, decision.reasons
    assert finding(decision, "category_coverage", "purpose").status is Status.PASS
    assert not any(f.check == "drift_persistence" and f.status is Status.FAIL for f in decision.findings)


def test_a_burst_on_three_days_is_still_transient_drift(decisions: dict[str, Decision]) -> None:
    decision = decisions["burst"]
    transient = finding(decision, "drift_persistence", "purpose")

    assert decision.branch is Branch.ALERT, decision.reasons
    assert transient.status is Status.FAIL
    assert transient.evidence["drifting_days"] == ["2024-05-27", "2024-05-28", "2024-05-29"]


def test_a_null_spike_and_a_partial_day_still_fail_among_many_tested_days(
    decisions: dict[str, Decision],
) -> None:
    decision = decisions["broken"]

    assert decision.branch is Branch.FIX_FEATURES, decision.reasons
    assert finding(decision, "null_rate", "amount").evidence["spike_days"] == ["2024-05-22"]
    [volume] = [f for f in decision.findings if f.check == "volume"]
    assert volume.evidence["partial_days"] == ["2024-05-20"]


def test_psi_of_a_never_seen_value_grows_with_the_reference_but_its_material_part_does_not() -> None:
    current = np.array([594.0, 396.0, 10.0])  # 1% of the day in a value the reference never had
    for reference_rows in (10_000, 10_000_000):
        reference = np.array([0.6, 0.4, 0.0]) * reference_rows
        assert material_divergence(reference, current) < 0.03
    assert psi(np.array([0.6, 0.4, 0.0]) * 10_000_000, current) > 0.1


def test_a_spread_change_is_material_as_much_as_psi_says() -> None:
    reference = np.array([0.3, 0.3, 0.2, 0.2]) * 100_000
    current = np.array([0.2, 0.25, 0.25, 0.3]) * 10_000

    assert material_divergence(reference, current) == pytest.approx(psi(reference, current), rel=0.05)


def test_material_change_subtracts_what_noise_gives_a_small_day() -> None:
    reference = np.array([0.25, 0.25, 0.25, 0.25]) * 100_000
    same_shares_small_day = np.array([0.25, 0.25, 0.25, 0.25]) * 60
    noisy_small_day = np.array([22.0, 8.0, 18.0, 12.0])  # chi-square 7.7 on 3 degrees of freedom: p = 0.05

    assert material_divergence(reference, same_shares_small_day) == pytest.approx(-3 / 60, rel=0.01)
    assert psi(reference, noisy_small_day) > 0.1
    assert material_divergence(reference, noisy_small_day) < 0.1


def test_drift_spread_over_the_window_too_thinly_for_single_days_is_not_transient(tmp_path: Path) -> None:
    # At 100 rows a day no single day of this story's narrower baskets is a significant material change, but
    # the week is: before, drift_persistence called it 'drifted only on 0 of 7 days: transient'.
    url = f"duckdb:///{tmp_path / 'story.duckdb'}"
    load_tables(url, build_story("hidden_concept_change", seed=1002, magnitude=0.5, rows_per_day=100))
    decision = run_gate(parse_policy(story_policy("hidden_concept_change")), Warehouse(url), DEMO_AS_OF)
    drifted = [f for f in decision.findings if f.check == "drift" and f.status is not Status.PASS]
    persistence = [f for f in decision.findings if f.check == "drift_persistence"]

    assert drifted
    assert all(f.status is Status.PASS for f in persistence), [f.message for f in persistence]
