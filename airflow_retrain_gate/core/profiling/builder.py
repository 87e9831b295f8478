"""Computes the profiles a gate run needs (the I/O half of the gate), using the reference-profile cache."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, TypeVar

from airflow_retrain_gate.core.feature_roles import has_misfits
from airflow_retrain_gate.core.policy import FeaturesTable, KeyedTable, Policy, TableMapping
from airflow_retrain_gate.core.profiling.baseline import Baseline, BaselineStore
from airflow_retrain_gate.core.profiling.cache import ProfileCache, cache_key
from airflow_retrain_gate.core.profiling.column_groups import profile_feature_groups
from airflow_retrain_gate.core.profiling.daily_counts import profile_overrides, profile_training_signals
from airflow_retrain_gate.core.profiling.day_totals import DayTotalsReader
from airflow_retrain_gate.core.profiling.expectation_result import ExpectationResult
from airflow_retrain_gate.core.profiling.features import FeatureBinning, ProfileSettings
from airflow_retrain_gate.core.profiling.freshness import earliest_timestamp_after, latest_timestamp
from airflow_retrain_gate.core.profiling.incremental import DayPartProfiler
from airflow_retrain_gate.core.profiling.key_parts import KeyDayParts
from airflow_retrain_gate.core.profiling.keys import count_keys
from airflow_retrain_gate.core.profiling.kinds import ProfileKind
from airflow_retrain_gate.core.profiling.known_events import load_events
from airflow_retrain_gate.core.profiling.multiclass import profile_classes
from airflow_retrain_gate.core.profiling.outcome_parts import OutcomeDayParts
from airflow_retrain_gate.core.profiling.outcomes import (
    OutcomeBinning,
    derive_outcome_binning,
    judged_window,
    outcome_scans,
    profile_outcomes,
    with_stray_labels,
)
from airflow_retrain_gate.core.profiling.profile_set import ProfileSet
from airflow_retrain_gate.core.profiling.profiles import KeyCounts, ResidualProfile, TableProfile, to_jsonable
from airflow_retrain_gate.core.profiling.residual_parts import ResidualDayParts
from airflow_retrain_gate.core.profiling.residuals import profile_residuals
from airflow_retrain_gate.core.profiling.table_schema import NUMERIC_KINDS
from airflow_retrain_gate.core.profiling.table_source import TableSource
from airflow_retrain_gate.core.profiling.versions import profile_versions, versioned_tables
from airflow_retrain_gate.core.scans import Scan
from airflow_retrain_gate.core.timeframes import TimeWindow
from airflow_retrain_gate.core.warehouse import Warehouse, WarehouseError

log = logging.getLogger("airflow_retrain_gate")
Profile = TypeVar("Profile")


@dataclass
class ProfileBuilder:
    """Profiles the policy's tables over the reference and current windows; errors are kept, not raised."""

    warehouse: Warehouse
    policy: Policy
    reference: TimeWindow
    current: TimeWindow
    as_of: datetime
    cache: ProfileCache | None = None
    settings: ProfileSettings = field(default_factory=ProfileSettings)
    expectations_runner: Callable[[Warehouse, Policy, TimeWindow], tuple[ExpectationResult, ...]] | None = (
        None
    )
    trained_at: datetime | None = None
    """The latest train carried out under the policy before `as_of`: the epoch of the pinned bins (baseline.py)."""
    settled_outcome_days: dict[tuple[datetime, datetime], datetime] | None = field(default=None, init=False)
    """Filled by the outcomes' day parts: since when each day's labels are unchanged (residual_parts.py)."""

    def build(self, kinds: set[ProfileKind]) -> ProfileSet:
        """Compute every profile kind in `kinds` that the policy maps."""
        tables = self.policy.tables
        values: dict[str, Any] = {}
        errors: dict[ProfileKind, str] = {}
        unmapped = {
            kind
            for kind in (
                ProfileKind.PREDICTIONS,
                ProfileKind.OUTCOMES,
                ProfileKind.OVERRIDES,
                ProfileKind.TRAINING_SIGNALS,
                ProfileKind.EVENTS,
            )
            if getattr(tables, kind) is None
        }
        if tables.outcomes is None or not (tables.events or versioned_tables(tables)):
            unmapped.add(ProfileKind.VERSIONS)  # nothing to attribute a shift to
        steps: dict[ProfileKind, Callable[[], dict[str, Any]]] = {
            ProfileKind.SCHEMA: self._schema,
            ProfileKind.FEATURES: self._features,
            ProfileKind.PREDICTIONS: self._predictions,
            ProfileKind.OUTCOMES: self._outcomes,
            ProfileKind.VERSIONS: self._versions,
            ProfileKind.OVERRIDES: self._overrides,
            ProfileKind.TRAINING_SIGNALS: self._signals,
            ProfileKind.EVENTS: self._events,
            ProfileKind.KEYS: self._keys,  # last: it waits for the features' day totals
        }
        if self.expectations_runner is not None:
            steps[ProfileKind.EXPECTATIONS] = self._expectations
        wanted = [kind for kind in steps if kind in kinds and kind not in unmapped]
        for kind in (ProfileKind.FEATURES, ProfileKind.PREDICTIONS):
            if kind in wanted and self.cache is not None:
                steps[kind] = self._counting_days(kind, steps[kind])
        # Profiles of different tables are independent: a warehouse server computes them side by side (the day
        # parts of the features and the score start first, and the row keys, which wait for the features' day
        # totals, last: a waiting profile holds a worker only when nothing else is left to start).
        with ThreadPoolExecutor(max_workers=max(1, min(self.warehouse.concurrency, len(wanted)))) as pool:
            outcomes = list(pool.map(lambda kind: _attempt(kind, steps[kind]), wanted))
        for kind, produced, error in outcomes:
            if error is None:
                values.update(produced)
            else:
                errors[kind] = error
        if (
            ProfileKind.RESIDUALS in kinds
            and ProfileKind.OUTCOMES not in unmapped
            and "features_reference" in values
        ):
            # Residuals are counted on the features' reference bins, so they wait for the features profile.
            features_reference = values["features_reference"]
            _, produced, error = _attempt(ProfileKind.RESIDUALS, lambda: self._residuals(features_reference))
            if error is None:
                values.update(produced)
            else:
                errors[ProfileKind.RESIDUALS] = error
        return ProfileSet(**values, errors=errors, unmapped=frozenset(unmapped))

    def _counting_days(
        self, kind: ProfileKind, step: Callable[[], dict[str, Any]]
    ) -> Callable[[], dict[str, Any]]:
        """`step`, which counts the day parts of a features-like table: until it ends, the run's other profiles of
        that table wait for its day totals instead of reading them (`DayTotalsReader.claim`). A table that cannot
        be bound claims nothing: its step fails on its own."""
        try:
            reader = DayTotalsReader(self._features_like(kind))
        except WarehouseError:
            return step
        reader.claim(str(kind))

        def counting() -> dict[str, Any]:
            try:
                return step()
            finally:
                reader.release(str(kind))

        return counting

    def _cached(
        self,
        kind: ProfileKind,
        identity: dict[str, Any],
        window: TimeWindow,
        table: str,
        compute: Callable[[], Profile],
        reads: tuple[Scan, ...],
    ) -> Profile:
        """The cached profile of `window`, or `compute` it and cache it; `reads` are what computing reads."""
        if self.cache is None:
            return compute()
        key = cache_key(kind, identity, window)
        cached = self.cache.get(key, reads)
        if cached is not None:
            log.info("reference profile of %s %s: from cache", table, kind)
            return cached
        profile = compute()
        self.cache.put(key, kind, table, window, profile)
        return profile

    def _identity(self, *mappings: Any) -> dict[str, Any]:
        return {
            "tables": [mapping.model_dump(mode="json") for mapping in mappings if mapping is not None],
            "fine_bins": self.settings.fine_bins,
            "top_k": self.settings.top_k,
        }

    def _labelled_identity(self, *mappings: Any) -> dict[str, Any]:
        """The cache identity of a profile of matured labels: its tables, and the day by which labels count."""
        return {**self._identity(*mappings), "labels_known_by": self.as_of.date().isoformat()}

    def _schema(self) -> dict[str, Any]:
        mapping = self.policy.tables.features
        info = self.warehouse.describe(mapping.table, "tables.features.table")
        recorded: dict[str, str] = {}
        if self.cache is not None and has_misfits(mapping, info):
            # Tells an upstream type change from a policy mistake: the features profile fails on a misfit.
            baseline = BaselineStore(self.cache, self.trained_at).load(
                ProfileKind.FEATURES, self._identity(mapping), FeatureBinning
            )
            recorded = baseline.column_types if baseline is not None else {}
        return {"feature_schema": info, "recorded_feature_types": recorded}

    def _features(self) -> dict[str, Any]:
        mapping = self.policy.tables.features
        source = self._features_like(ProfileKind.FEATURES)
        reference, current = self._by_day(ProfileKind.FEATURES, source, mapping)
        latest = None if current.max_timestamp is None else source.end_of("timestamp", current.max_timestamp)
        if latest is None:
            latest = latest_timestamp(
                source, self.as_of, self.as_of - min(self.reference.start, self.current.start)
            )
        return {
            "features_reference": reference,
            "features_current": current,
            "latest_feature_timestamp": latest,
            "first_feature_timestamp_after_as_of": None if latest is not None else self._first_after(source),
        }

    def _first_after(self, source: TableSource) -> datetime | None:
        """The earliest feature row after as_of, which only words the freshness finding: unread is not an error."""
        try:
            return earliest_timestamp_after(source, self.as_of)
        except WarehouseError as error:
            log.warning("the first row after as_of of %s not read: %s", source.mapping.table, error)
            return None

    def _predictions(self) -> dict[str, Any]:
        """The score column, profiled the way a numeric feature is: moments, histogram and per-day slices."""
        mapping = self.policy.tables.predictions
        assert mapping is not None
        reference, current = self._by_day(
            ProfileKind.PREDICTIONS, self._features_like(ProfileKind.PREDICTIONS), mapping
        )
        return {"scores_reference": reference, "scores_current": current}

    def prepare_days(self, span: TimeWindow) -> None:
        """Compute and cache the day parts of the features and the score over `span`, on their pinned bins (where
        a baseline is pinned), in one pass per run of missing days: the dates of a backtest then only merge them.
        Nothing is cached without a cache; a failure is a warning (each date profiles what it misses itself)."""
        if self.cache is None:
            return
        tables = self.policy.tables
        targets: list[tuple[ProfileKind, TableMapping | None]] = [
            (ProfileKind.FEATURES, tables.features),
            (ProfileKind.PREDICTIONS, tables.predictions),
        ]
        for kind, mapping in targets:
            if mapping is None:
                continue
            baseline = BaselineStore(self.cache, self.trained_at).load(
                kind, self._identity(mapping), FeatureBinning
            )
            if baseline is None:
                continue
            try:
                self._day_parts(kind, self._features_like(kind), mapping).profile(span, baseline.binning)
            except WarehouseError as error:
                log.warning("day parts of %s not prepared: %s", mapping.table, error)

    def _features_like(self, kind: ProfileKind) -> TableSource:
        """The source profiled the way a features table is: the features table, or for PREDICTIONS the
        predictions table as a features table of one numeric column, its score."""
        if kind is not ProfileKind.PREDICTIONS:
            return TableSource.bind(self.warehouse, self.policy.tables.features, "tables.features")
        mapping = self.policy.tables.predictions
        assert mapping is not None
        source = TableSource.bind(self.warehouse, mapping, "tables.predictions")
        source.require_kind("score", mapping.score, NUMERIC_KINDS, "a number")
        as_feature = FeaturesTable(
            table=mapping.table, filters=mapping.filters, timestamp=mapping.timestamp, numeric=[mapping.score]
        )
        return replace(source, mapping=as_feature)

    def _day_parts(self, kind: ProfileKind, source: TableSource, mapping: TableMapping) -> DayPartProfiler:
        """The day-part profiler of a features-like `source` (a cache is needed)."""
        assert self.cache is not None
        return DayPartProfiler(
            self.cache, kind, self._identity(mapping), source, self.settings, profile_feature_groups
        )

    def _by_day(
        self, kind: ProfileKind, source: TableSource, mapping: TableMapping
    ) -> tuple[TableProfile, TableProfile]:
        """The reference and current profiles of a features-like `source`: without a cache, the reference on its
        own bins and the current on the reference's; with one, both merged from day parts on the baseline's bins
        (pinned from this reference when there is none yet)."""
        if self.cache is None:
            reference = profile_feature_groups(source, self.reference, None, self.settings)
            return reference, profile_feature_groups(
                source, self.current, FeatureBinning.of(reference), self.settings
            )
        identity = self._identity(mapping)
        parts = self._day_parts(kind, source, mapping)
        baselines = BaselineStore(self.cache, self.trained_at)
        baseline = baselines.load(kind, identity, FeatureBinning)
        if baseline is not None:
            reference, current = parts.profiles([self.reference, self.current], baseline.binning)
            return reference, current
        reference = parts.profile(self.reference, None)
        binning = FeatureBinning.of(reference)
        baselines.store(
            kind, identity, mapping.table, Baseline(binning, reference.column_types, reference.window)
        )
        return reference, parts.profile(self.current, binning)

    def _keys(self) -> dict[str, Any]:
        """Rows and distinct keys of the features and predictions tables in both windows, where a key is known."""
        tables = self.policy.tables
        reference: dict[str, KeyCounts] = {}
        current: dict[str, KeyCounts] = {}
        for role, mapping in (("features", tables.features), ("predictions", tables.predictions)):
            if mapping is not None and mapping.row_key() is not None:
                reference[role], current[role] = self._key_counts(role, mapping)
        return {"keys_reference": reference, "keys_current": current}

    def _key_counts(self, role: str, mapping: KeyedTable) -> tuple[KeyCounts, KeyCounts]:
        key = mapping.row_key()
        assert key is not None
        source = TableSource.bind(self.warehouse, mapping, f"tables.{role}")
        score = getattr(mapping, "score", None)
        value = source.number("score", score) if score else None
        if self.cache is not None and getattr(mapping, "timestamp", None) in key.values():
            parts = KeyDayParts(self.cache, self._identity(mapping), source, key, value)
            reference, current = parts.counts([self.reference, self.current])
            return reference, current
        reference = self._cached(
            ProfileKind.KEYS,
            self._identity(mapping),
            self.reference,
            mapping.table,
            lambda: count_keys(source, self.reference, key, value),
            (source.scan(self.reference),),
        )
        return reference, count_keys(source, self.current, key, value)

    def _outcomes(self) -> dict[str, Any]:
        tables = self.policy.tables
        assert tables.outcomes is not None
        outcomes = TableSource.bind(self.warehouse, tables.outcomes, "tables.outcomes")
        predictions = (
            TableSource.bind(self.warehouse, tables.predictions, "tables.predictions")
            if tables.predictions
            else None
        )
        fine_bins = self.settings.fine_bins
        judged_reference, judged_current = self.policy.windows.outcome_windows(self.reference, self.current)
        identity = self._labelled_identity(tables.predictions, tables.outcomes)
        binning, pinned = self._outcome_binning(predictions, outcomes, judged_reference)
        if self.cache is not None and predictions is not None and binning is not None and pinned:
            parts = OutcomeDayParts(
                self.cache,
                self._identity(tables.predictions, tables.outcomes),
                predictions,
                outcomes,
                self.as_of,
            )
            merged = parts.profiles([judged_reference, judged_current], binning)
            self.settled_outcome_days = parts.settled
            reference, current = (
                with_stray_labels(profile, predictions, outcomes, self.as_of, binning) for profile in merged
            )
        else:
            reference = self._cached(
                ProfileKind.OUTCOMES,
                identity,
                judged_reference,
                tables.outcomes.table,
                lambda: profile_outcomes(
                    predictions, outcomes, judged_reference, self.as_of, binning, fine_bins
                ),
                outcome_scans(predictions, outcomes, judged_reference),
            )
            current = profile_outcomes(
                predictions, outcomes, judged_current, self.as_of, OutcomeBinning.of(reference), fine_bins
            )
        classes = {}
        if predictions is not None and tables.outcomes.classes:
            classes = {
                "multiclass_reference": self._cached(
                    ProfileKind.CLASSES,
                    identity,
                    judged_reference,
                    tables.outcomes.table,
                    lambda: profile_classes(predictions, outcomes, judged_reference, self.as_of, fine_bins),
                    outcome_scans(predictions, outcomes, judged_reference),
                ),
                "multiclass_current": profile_classes(
                    predictions, outcomes, judged_current, self.as_of, fine_bins
                ),
            }
        return {
            "outcomes_reference": reference,
            "outcomes_current": current,
            "outcomes_have_predictions": predictions is not None,
            **classes,
        }

    def _outcome_binning(
        self, predictions: TableSource | None, outcomes: TableSource, judged_reference: TimeWindow
    ) -> tuple[OutcomeBinning | None, bool]:
        """The outcome bins and label domain the windows are counted on, and whether they are pinned (see
        baseline.py): pinned from the judged reference window when none is yet and it holds as many matured
        labels as `label_maturity` needs (a domain read off fewer would be kept until the next retrain); else
        derived from it (None: left to `profile_outcomes`, without a cache or predictions)."""
        if self.cache is None or predictions is None:
            return None, False
        tables = self.policy.tables
        identity = self._identity(tables.predictions, tables.outcomes)
        baselines = BaselineStore(self.cache, self.trained_at)
        baseline = baselines.load(ProfileKind.OUTCOMES, identity, OutcomeBinning)
        if baseline is not None:
            return baseline.binning, True
        window = judged_window(predictions, outcomes, judged_reference)
        binning, labels = derive_outcome_binning(
            predictions, outcomes, window, self.as_of, self.settings.fine_bins
        )
        if labels < self.policy.check_settings("label_maturity").min_labels:
            return binning, False
        baselines.store(ProfileKind.OUTCOMES, identity, outcomes.mapping.table, Baseline(binning, {}, window))
        return binning, True

    def _versions(self) -> dict[str, Any]:
        """Outcome sums per day of both judged windows, overall and by value of each version column."""
        tables = self.policy.tables
        assert tables.outcomes is not None
        outcomes = TableSource.bind(self.warehouse, tables.outcomes, "tables.outcomes")
        predictions = (
            TableSource.bind(self.warehouse, tables.predictions, "tables.predictions")
            if tables.predictions
            else None
        )
        features = (
            TableSource.bind(self.warehouse, tables.features, "tables.features")
            if tables.features.versions
            else None
        )
        judged_reference, judged_current = self.policy.windows.outcome_windows(self.reference, self.current)
        identity = self._labelled_identity(tables.features, tables.predictions, tables.outcomes)
        reference = self._cached(
            ProfileKind.VERSIONS,
            identity,
            judged_reference,
            tables.outcomes.table,
            lambda: profile_versions(features, predictions, outcomes, judged_reference, self.as_of),
            outcome_scans(predictions, outcomes, judged_reference),
        )
        current = profile_versions(features, predictions, outcomes, judged_current, self.as_of)
        return {"versions_reference": reference, "versions_current": current}

    def _residuals(self, features_reference: TableProfile) -> dict[str, Any]:
        """Residuals of matured predictions by reference bin of each feature, both windows (none without
        predictions, a features entity, or with a score per class)."""
        tables = self.policy.tables
        if tables.predictions is None or tables.outcomes is None or tables.features.entity is None:
            return {}
        if getattr(tables.outcomes, "classes", None):
            return {}
        predictions = TableSource.bind(self.warehouse, tables.predictions, "tables.predictions")
        outcomes = TableSource.bind(self.warehouse, tables.outcomes, "tables.outcomes")
        features = TableSource.bind(self.warehouse, tables.features, "tables.features")
        binning = FeatureBinning.of(features_reference)
        judged_reference, judged_current = self.policy.windows.outcome_windows(self.reference, self.current)
        if self.cache is not None and self.settled_outcome_days is not None:
            parts = ResidualDayParts(
                self.cache,
                self._identity(tables.features, tables.predictions, tables.outcomes),
                predictions,
                outcomes,
                features,
                self.as_of,
            )
            reference, current = parts.profiles(
                [judged_reference, judged_current], binning, self.settled_outcome_days
            )
            return {"residuals_reference": reference, "residuals_current": current}
        identity = {
            **self._labelled_identity(tables.features, tables.predictions, tables.outcomes),
            "feature_bins": to_jsonable(binning),
        }

        def profile(window: TimeWindow) -> ResidualProfile:
            return profile_residuals(predictions, outcomes, features, window, self.as_of, binning)

        reference = self._cached(
            ProfileKind.RESIDUALS,
            identity,
            judged_reference,
            tables.features.table,
            lambda: profile(judged_reference),
            (*outcome_scans(predictions, outcomes, judged_reference), features.scan(judged_reference)),
        )
        return {"residuals_reference": reference, "residuals_current": profile(judged_current)}

    def _daily(
        self, kind: ProfileKind, section: str, profiler: Callable[[TableSource, TimeWindow], Any]
    ) -> tuple[Any, Any]:
        mapping = getattr(self.policy.tables, kind)
        source = TableSource.bind(self.warehouse, mapping, section)
        reference = self._cached(
            kind,
            self._identity(mapping),
            self.reference,
            mapping.table,
            lambda: profiler(source, self.reference),
            (source.scan(self.reference),),
        )
        return reference, profiler(source, self.current)

    def _overrides(self) -> dict[str, Any]:
        reference, current = self._daily(ProfileKind.OVERRIDES, "tables.overrides", profile_overrides)
        return {"overrides_reference": reference, "overrides_current": current}

    def _signals(self) -> dict[str, Any]:
        reference, current = self._daily(
            ProfileKind.TRAINING_SIGNALS, "tables.training_signals", profile_training_signals
        )
        return {"signals_reference": reference, "signals_current": current}

    def _events(self) -> dict[str, Any]:
        assert self.policy.tables.events is not None
        source = TableSource.bind(self.warehouse, self.policy.tables.events, "tables.events")
        return {"events": load_events(source, self.current)}

    def _expectations(self) -> dict[str, Any]:
        assert self.expectations_runner is not None
        return {"expectation_results": self.expectations_runner(self.warehouse, self.policy, self.current)}


def _attempt(
    kind: ProfileKind, step: Callable[[], dict[str, Any]]
) -> tuple[ProfileKind, dict[str, Any], str | None]:
    """Run one profiling step; a warehouse fault or a bug becomes that kind's error, not the run's."""
    try:
        return kind, step(), None
    except WarehouseError as error:
        return kind, {}, str(error)
    except Exception as error:  # noqa: BLE001 - a bug in one profile must not stop the others
        log.exception("profiling %s failed", kind)
        return kind, {}, f"internal error while profiling: {type(error).__name__}: {error}"
