"""Outcome day parts: a daily gate merges the judged outcome windows from cached per-day parts, counts again only
the days whose labels matured or changed, names the days whose predictions or earlier labels changed, and gets
the profile a fresh count on the same bins gets."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from airflow_retrain_gate.core import Policy, StateStore, Warehouse, parse_policy
from airflow_retrain_gate.core.gate import resolve_windows
from airflow_retrain_gate.core.profiling.builder import ProfileBuilder
from airflow_retrain_gate.core.profiling.cache import ProfileCache
from airflow_retrain_gate.core.profiling.features import FeatureBinning
from airflow_retrain_gate.core.profiling.kinds import ProfileKind
from airflow_retrain_gate.core.profiling.outcomes import OutcomeBinning, profile_outcomes
from airflow_retrain_gate.core.profiling.profile_set import ProfileSet
from airflow_retrain_gate.core.profiling.profiles import OutcomeProfile, ResidualProfile, TableProfile
from airflow_retrain_gate.core.profiling.residuals import profile_residuals
from airflow_retrain_gate.core.profiling.table_source import TableSource

AS_OF = datetime(2024, 6, 1, tzinfo=UTC)
PER_DAY = 300
DAYS = 75


def policy_for(schema: str | None) -> Policy:
    """Scores with bands, and labels that arrive after their predictions, in `schema`."""
    prefix = f"{schema}." if schema else ""
    return parse_policy(
        {
            "name": "outcome_parts",
            "tables": {
                "features": {
                    "table": f"{prefix}features",
                    "timestamp": "scored_at",
                    "entity": "entity_id",
                    "numeric": ["x"],
                },
                "predictions": {
                    "table": f"{prefix}predictions",
                    "timestamp": "scored_at",
                    "entity": "entity_id",
                    "score": "score",
                    "band": "band",
                },
                "outcomes": {
                    "table": f"{prefix}outcomes",
                    "entity": "entity_id",
                    "label": "label",
                    "label_timestamp": "label_ts",
                },
            },
        }
    )


def tables() -> dict[str, pd.DataFrame]:
    """75 days of 300 scored entities a day before AS_OF (and 5 after); each label arrives 0 to 3 days after its
    prediction, so the last days' labels are still maturing at any as_of."""
    entity = np.arange(DAYS * PER_DAY)
    scored_at = pd.Timestamp("2024-03-23") + pd.to_timedelta(entity * (86400 / PER_DAY), unit="s")
    score = ((entity * 7919) % 1000) / 1000.0
    predictions = pd.DataFrame(
        {
            "entity_id": entity,
            "scored_at": scored_at,
            "score": score,
            "band": np.array(["low", "mid", "high"])[(entity * 31) % 3],
        }
    )
    outcomes = pd.DataFrame(
        {
            "entity_id": entity,
            "label": ((entity * 104729) % 1000 < score * 1000).astype(int),
            "label_ts": scored_at + pd.to_timedelta(((entity * 13) % 97) * (3 * 86400 / 97), unit="s"),
        }
    )
    features = pd.DataFrame({"entity_id": entity, "scored_at": scored_at, "x": score * 2})
    return {"predictions": predictions, "outcomes": outcomes, "features": features}


def instant(value: datetime | str) -> datetime:
    """A timestamp as a warehouse returns it (SQLite: text) as a naive datetime."""
    return pd.Timestamp(value).to_pydatetime()


def day_entities(day: str) -> range:
    """The entities scored on `day` (ISO)."""
    first = (date.fromisoformat(day) - date(2024, 3, 23)).days * PER_DAY
    return range(first, first + PER_DAY)


@dataclass(frozen=True)
class World:
    """A warehouse holding the three tables, and the policy mapping them."""

    url: str
    schema: str | None

    @property
    def outcomes(self) -> str:
        """The outcomes table as the policy names it."""
        return f"{self.schema}.outcomes" if self.schema else "outcomes"

    @property
    def policy(self) -> Policy:
        """The policy mapping the tables."""
        return policy_for(self.schema)

    def tables(self) -> dict[str, sa.TableClause]:
        """The predictions and outcomes tables, for statements."""
        return {
            "predictions": sa.table(
                "predictions",
                *map(sa.column, ("entity_id", "scored_at", "score", "band")),
                schema=self.schema,
            ),
            "outcomes": sa.table(
                "outcomes", *map(sa.column, ("entity_id", "label", "label_ts")), schema=self.schema
            ),
        }

    def change(self, statement: Callable[[dict[str, sa.TableClause]], sa.Executable]) -> None:
        """Change the tables as an upstream pipeline would."""
        engine = sa.create_engine(self.url)
        with engine.begin() as connection:
            connection.execute(statement(self.tables()))
        engine.dispose()

    def rows(self, query: Callable[[dict[str, sa.TableClause]], sa.Select[Any]]) -> list[dict[str, Any]]:
        """Rows of a query over the tables."""
        engine = sa.create_engine(self.url)
        with engine.connect() as connection:
            found = [dict(row._mapping) for row in connection.execute(query(self.tables()))]
        engine.dispose()
        return found

    def profiles(
        self, state: StateStore | None, as_of: datetime = AS_OF
    ) -> tuple[ProfileSet, ProfileCache | None]:
        """The profiles of one gate run behind its outcome checks (features, outcomes, residuals), and its cache's
        tallies."""
        warehouse = Warehouse(self.url, read_only=True)
        reference, current = resolve_windows(self.policy, as_of)
        cache = ProfileCache(state) if state is not None else None
        if state is not None:
            state.migrate()
        kinds = {ProfileKind.FEATURES, ProfileKind.OUTCOMES, ProfileKind.RESIDUALS}
        try:
            with warehouse.held():  # as run_gate reads: one snapshot
                profiles = ProfileBuilder(warehouse, self.policy, reference, current, as_of, cache).build(
                    kinds
                )
        finally:
            warehouse.dispose()
        assert not profiles.errors
        return profiles, cache

    def fresh(self, profile: OutcomeProfile, as_of: datetime = AS_OF) -> OutcomeProfile:
        """The same window counted afresh in one statement, on the same bins and domain."""
        predictions, outcomes, _, warehouse = self.sources()
        try:
            return profile_outcomes(
                predictions, outcomes, profile.window, as_of, OutcomeBinning.of(profile), 20
            )
        finally:
            warehouse.dispose()

    def fresh_residuals(
        self, profile: ResidualProfile, features: TableProfile, as_of: datetime = AS_OF
    ) -> ResidualProfile:
        """The same window's residuals counted afresh in one statement, on the features' bins."""
        predictions, outcomes, feature_rows, warehouse = self.sources()
        try:
            binning = FeatureBinning.of(features)
            return profile_residuals(predictions, outcomes, feature_rows, profile.window, as_of, binning)
        finally:
            warehouse.dispose()

    def sources(self) -> tuple[TableSource, TableSource, TableSource, Warehouse]:
        """The predictions, outcomes and features tables, bound in a new warehouse (dispose it after)."""
        tables = self.policy.tables
        assert tables.predictions is not None and tables.outcomes is not None
        warehouse = Warehouse(self.url, read_only=True)
        return (
            TableSource.bind(warehouse, tables.predictions, "tables.predictions"),
            TableSource.bind(warehouse, tables.outcomes, "tables.outcomes"),
            TableSource.bind(warehouse, tables.features, "tables.features"),
            warehouse,
        )


@pytest.fixture(params=["duckdb", "postgresql", "sqlite"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> World:
    """The tables in DuckDB, PostgreSQL (in a schema of their own) or SQLite."""
    schema = None
    if request.param == "duckdb":
        url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    elif request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    else:
        url, schema = request.getfixturevalue("postgres_server"), request.getfixturevalue("postgres_schema")
    engine = sa.create_engine(url)
    for name, frame in tables().items():
        frame.to_sql(name, engine, schema=schema, index=False)
    engine.dispose()
    return World(url, schema)


@pytest.fixture
def state(tmp_path: Path) -> StateStore:
    """An empty state database."""
    return StateStore(f"sqlite:///{tmp_path / 'state.sqlite'}")


def assert_same(merged: OutcomeProfile, counted: OutcomeProfile) -> None:
    """Field for field equal; sums of scores may differ in their last bits (summed per day, then over days)."""
    for field in fields(OutcomeProfile):
        left, right = getattr(merged, field.name), getattr(counted, field.name)
        if field.name in ("daily_bins", "band_bins"):
            assert left.keys() == right.keys()
            for metric in left:
                np.testing.assert_allclose(
                    np.asarray(left[metric]), np.asarray(right[metric]), rtol=1e-9, atol=1e-9
                )
        else:
            assert left == right, field.name


def tally(cache: ProfileCache | None, kind: str = "outcomes") -> tuple[int, int, dict[str, list[str]]]:
    """Day parts of `kind` merged from the cache and computed, and the days reported recomputed."""
    assert cache is not None
    parts = cache.joined_parts.get(kind, {"cached": 0, "computed": 0})
    return parts["cached"], parts["computed"], cache.recomputed_days


def days_from(first: str, last: str) -> list[str]:
    """ISO days from `first` to `last`, both included."""
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    return [(start + timedelta(days=offset)).isoformat() for offset in range((end - start).days + 1)]


def test_the_first_run_pins_the_bins_and_its_merged_windows_equal_a_fresh_count(
    world: World, state: StateStore
) -> None:
    profiles, cache = world.profiles(state)
    cold, _ = world.profiles(None)

    assert tally(cache) == (0, 28 + 7, {})
    assert_same(profiles.outcomes_reference, cold.outcomes_reference)
    assert_same(profiles.outcomes_current, cold.outcomes_current)
    by_band = np.asarray(profiles.outcomes_reference.band_bins["matured"]).sum()
    assert by_band == profiles.outcomes_reference.matured > 0  # every matured label in some band


def test_the_next_day_counts_the_new_days_and_those_whose_labels_matured(
    world: World, state: StateStore
) -> None:
    world.profiles(state)
    next_day = AS_OF + timedelta(days=1)

    profiles, cache = world.profiles(state, next_day)

    cached, computed, recomputed = tally(cache)
    # The new day of each window, and the three days before as_of, whose predictions got labels on June 1 (a
    # label arrives within three days).
    assert computed == 2 + 3
    assert cached == 28 + 7 - computed
    assert recomputed == {}  # labels maturing is no news
    assert_same(profiles.outcomes_reference, world.fresh(profiles.outcomes_reference, next_day))
    assert_same(profiles.outcomes_current, world.fresh(profiles.outcomes_current, next_day))
    same_day, cache = world.profiles(state, next_day)
    assert tally(cache) == (28 + 7, 0, {})
    assert_same(same_day.outcomes_current, profiles.outcomes_current)


def test_labels_loaded_late_recompute_their_prediction_day_and_are_named(
    world: World, state: StateStore
) -> None:
    world.profiles(state)
    # A backfill: more labels for 2024-04-10's predictions, dated within their usual delay, loaded only now.
    backfill = [
        {**row, "label": 1 - row["label"], "label_ts": instant(row["label_ts"]) + timedelta(seconds=1)}
        for row in world.rows(
            lambda t: sa.select(t["outcomes"]).where(
                t["outcomes"].c.entity_id.in_(day_entities("2024-04-10")[::5])
            )
        )
    ]
    world.change(lambda t: sa.insert(t["outcomes"]).values(backfill))

    profiles, cache = world.profiles(state)

    # The label days 04-10 to 04-13 grew: the prediction days with labels on them (a label comes within three
    # days) are counted again and named; which of them the new labels belong to, no cheap read tells.
    late = days_from("2024-04-07", "2024-04-13")
    assert tally(cache) == (28 + 7 - len(late), len(late), {world.outcomes: late})
    assert_same(profiles.outcomes_reference, world.fresh(profiles.outcomes_reference))


def test_deleted_labels_and_late_predictions_recompute_their_days(world: World, state: StateStore) -> None:
    world.profiles(state)
    deleted = list(day_entities("2024-04-20")[::3])
    world.change(lambda t: sa.delete(t["outcomes"]).where(t["outcomes"].c.entity_id.in_(deleted)))
    late = [
        {
            **row,
            "entity_id": row["entity_id"] + 1_000_000,
            "scored_at": instant(row["scored_at"]) + timedelta(minutes=1),
        }
        for row in world.rows(
            lambda t: sa.select(t["predictions"]).where(
                t["predictions"].c.entity_id.in_(day_entities("2024-05-27"))
            )
        )
    ]
    world.change(lambda t: sa.insert(t["predictions"]).values(late))

    profiles, cache = world.profiles(state)

    _, computed, recomputed = tally(cache)
    # Labels deleted from the label days 04-20 to 04-23: every reference day up to them could have lost some.
    assert recomputed[world.outcomes] == [*days_from("2024-03-30", "2024-04-23"), "2024-05-27"]
    assert computed == len(recomputed[world.outcomes])
    assert_same(profiles.outcomes_reference, world.fresh(profiles.outcomes_reference))
    assert_same(profiles.outcomes_current, world.fresh(profiles.outcomes_current))


def test_an_earlier_date_after_a_later_one_counts_the_labels_it_knew(world: World, state: StateStore) -> None:
    world.profiles(state, AS_OF + timedelta(days=2))
    earlier = AS_OF + timedelta(days=1)

    profiles, _ = world.profiles(state, earlier)

    assert_same(profiles.outcomes_current, world.fresh(profiles.outcomes_current, earlier))
    assert_same(profiles.outcomes_reference, world.fresh(profiles.outcomes_reference, earlier))


def test_too_few_reference_labels_pin_no_bins(world: World, state: StateStore) -> None:
    world.change(lambda t: sa.delete(t["outcomes"]).where(t["outcomes"].c.label_ts < datetime(2024, 5, 1)))

    profiles, cache = world.profiles(state)

    assert tally(cache) == (0, 0, {})  # counted per window, as without a cache
    assert profiles.outcomes_reference.matured == 0


def test_residual_parts_follow_their_outcome_days_and_the_features(world: World, state: StateStore) -> None:
    world.profiles(state)
    next_day = AS_OF + timedelta(days=1)
    daily, cache = world.profiles(state, next_day)

    assert tally(cache, "residuals")[:2] == tally(cache, "outcomes")[:2] == (28 + 7 - 5, 5)
    for window in ("reference", "current"):
        merged = getattr(daily, f"residuals_{window}")
        features = daily.features_reference
        assert merged == world.fresh_residuals(merged, features, next_day)
    # Features rows arrive late for a reference day: its features part and its residuals are counted again.
    late = [
        {"entity_id": entity, "scored_at": datetime(2024, 4, 20, 12), "x": 5.0}
        for entity in day_entities("2024-04-20")[:30]
    ]
    world.change(
        lambda t: sa.insert(sa.table("features", *map(sa.column, late[0]), schema=world.schema)).values(late)
    )

    after, cache = world.profiles(state, next_day)

    assert tally(cache, "residuals")[:2] == (28 + 7 - 1, 1)
    assert tally(cache, "outcomes")[:2] == (28 + 7, 0)
    assert after.residuals_reference == world.fresh_residuals(
        after.residuals_reference, after.features_reference, next_day
    )
