"""The checks, one module each; importing this package registers them.

DECISION_ORDER is the order reasons are listed in a decision: an explanation that names the cause
(a stale table, a known event) comes before a generic one (transient drift).
"""

from airflow_retrain_gate.core.checks import (  # noqa: F401  (imported to register)
    category_coverage,
    change_attribution,
    concept_drift,
    dead_signal,
    drift,
    drift_persistence,
    duplicate_keys,
    expectations,
    freshness,
    known_events,
    kpi_by_band,
    label_domain,
    label_maturity,
    label_timing,
    null_rate,
    performance,
    proxy_alignment,
    residual_drift,
    scale_shift,
    schema,
    score_health,
    score_inversion,
    segment_mix,
    table_rows,
    training_signal_hygiene,
    trust,
    volume,
)
from airflow_retrain_gate.core.checks.registry import REGISTRY, CheckSettings, CheckSpec, register

DECISION_ORDER = (
    "freshness",
    "schema",
    "table_rows",
    "label_domain",
    "label_timing",
    "score_inversion",
    "dead_signal",
    "scale_shift",
    "category_coverage",
    "null_rate",
    "score_health",
    "duplicate_keys",
    "volume",
    "training_signal_hygiene",
    "expectations",
    "change_attribution",
    "known_events",
    "segment_mix",
    "proxy_alignment",
    "kpi_by_band",
    "trust",
    "drift_persistence",
    "label_maturity",
    "concept_drift",
    "performance",
    "residual_drift",
    "drift",
)
"""Checks from the most specific explanation to the most generic; reasons are listed in this order."""

CHECK_RANK = {name: rank for rank, name in enumerate(DECISION_ORDER)}
assert set(DECISION_ORDER) == set(REGISTRY), "every registered check needs a place in DECISION_ORDER"

__all__ = ["CHECK_RANK", "DECISION_ORDER", "REGISTRY", "CheckSettings", "CheckSpec", "register"]
