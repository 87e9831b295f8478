"""Wide features tables profiled in groups of columns, so that no query's result grows with the square of the
table's width.

A histogram query returns a row per day and bin of each column, with one key column per feature (all NULL but
its own): its size, and the memory to decode it, grow with columns x columns. Profiling at most
COLUMNS_PER_GROUP columns per set of queries keeps both linear in the columns, and bounds the warehouse's
per-query state. Each group reads the window again: free on a columnar warehouse (each read only reads its
group's columns), one more pass over the window's rows on a row store, for tables wider than one group.
"""

from __future__ import annotations

from dataclasses import replace

from airflow_retrain_gate.core.policy import FeaturesTable
from airflow_retrain_gate.core.profiling.features import (
    FeatureBinning,
    ProfileSettings,
    profile_features,
)
from airflow_retrain_gate.core.profiling.profiles import TableProfile
from airflow_retrain_gate.core.profiling.table_source import TableSource
from airflow_retrain_gate.core.timeframes import TimeWindow

COLUMNS_PER_GROUP = 32
"""Feature columns profiled by one set of queries."""


def profile_feature_groups(
    source: TableSource, window: TimeWindow, binning: FeatureBinning | None, settings: ProfileSettings
) -> TableProfile:
    """`profile_features` of every mapped column, COLUMNS_PER_GROUP columns at a time, as one profile."""
    mapping: FeaturesTable = source.mapping  # type: ignore[assignment]
    groups = column_groups(mapping)
    if len(groups) == 1:
        return profile_features(source, window, binning, settings)
    profiles = [
        profile_features(
            replace(source, mapping=group),
            window,
            None if binning is None else _binning_of(binning, group),
            settings,
        )
        for group in groups
    ]
    return replace(
        profiles[0],
        numeric={name: column for profile in profiles for name, column in profile.numeric.items()},
        categorical={name: column for profile in profiles for name, column in profile.categorical.items()},
    )


def column_groups(mapping: FeaturesTable) -> list[FeaturesTable]:
    """The mapping cut into mappings of at most COLUMNS_PER_GROUP feature columns (numeric first), each with
    the timestamp, filters and segment."""
    columns = [("numeric", name) for name in mapping.numeric] + [
        ("categorical", name) for name in mapping.categorical
    ]
    cuts = [columns[start : start + COLUMNS_PER_GROUP] for start in range(0, len(columns), COLUMNS_PER_GROUP)]
    return [
        mapping.model_copy(
            update={
                "numeric": [name for kind, name in cut if kind == "numeric"],
                "categorical": [name for kind, name in cut if kind == "categorical"],
            }
        )
        for cut in cuts or [[]]
    ]


def _binning_of(binning: FeatureBinning, group: FeaturesTable) -> FeatureBinning:
    """The bins of the group's columns."""
    return FeatureBinning(
        numeric={name: binning.numeric[name] for name in group.numeric},
        categories={name: binning.categories[name] for name in group.categorical},
        segments=binning.segments,
        magnitudes=tuple(name for name in binning.magnitudes if name in group.numeric),
    )
