"""Profiling: the aggregates of the policy's tables over the reference and current windows, computed in the
warehouse, cached, and handed to the checks as one ProfileSet.

The ground floor (`kinds`, `table_schema`, `profiles`, `expectation_result`, `profile_set`) holds the types that
checks, profilers and the warehouse share; it imports no profiler. This module imports nothing, so that any of
them can be imported alone.
"""
