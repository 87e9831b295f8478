"""Profiling: the aggregates of the policy's tables over the reference and current windows, computed in the
warehouse, cached, and handed to the checks as one ProfileSet.

Ground floor (types that checks, profilers and the warehouse share; they import no profiler):
`kinds` (ProfileKind), `table_schema` (TableSchema), `profiles` (the profile dataclasses and their JSON form),
`expectation_result` (ExpectationResult) and `profile_set` (ProfileSet).

Queries and profilers: `table_source` (a policy table bound to its reflected table), `queries` (shared SQL
building blocks), one module per profile: `features`, `outcomes`, `multiclass` (with `class_columns`),
`residuals`, `versions`, `keys`, `daily_counts`, `known_events`, `freshness`.

Wide tables: `column_groups` (a features table profiled a group of columns at a time).

Per-day parts: `day_parts` (a window profile cut into days and merged back), `incremental` (window profiles
from cached day parts, verified, only missing or stale days computed) and `baseline` (the bins parts are counted
on, pinned until the mapping changes or the model is retrained).

Orchestration: `builder` (runs the profilers a gate needs) and `cache` (profiles and day parts in the state
database).

This module imports nothing, so that any of them can be imported alone.
"""
