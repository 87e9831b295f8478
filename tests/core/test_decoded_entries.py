"""Cached profiles are decoded once per process while their text fits the budget, least recently used first out."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from airflow_retrain_gate.core.moments import Moments
from airflow_retrain_gate.core.profiling.decoded_entries import DecodedEntries
from airflow_retrain_gate.core.profiling.profiles import to_jsonable


def entry(mean: float) -> str:
    """The JSON text of a small cached value: moments and a timestamp, as profiles hold them."""
    moments = Moments(count=10, mean=mean, m2=2.0, minimum=0.0, maximum=5.0)
    return json.dumps(
        to_jsonable({"moments": moments, "at": datetime(2024, 6, 1, tzinfo=UTC), "counts": [1, 2]})
    )


def test_the_same_text_is_decoded_once_and_shared() -> None:
    entries = DecodedEntries()
    text = entry(1.0)

    first, again = entries.decode(text), entries.decode(text)

    assert first is again
    assert first["moments"].mean == 1.0 and first["counts"] == (1, 2)


def test_over_the_budget_the_least_recently_used_text_goes_first() -> None:
    a, b, c = entry(1.0), entry(2.0), entry(3.0)
    entries = DecodedEntries(budget=len(a) + len(b))
    decoded_a = entries.decode(a)
    entries.decode(b)
    entries.decode(a)  # a is now the most recently used

    entries.decode(c)

    assert len(entries) == 2
    assert entries.decode(a) is decoded_a  # kept; b was dropped for c
    assert len(entries) == 2


def test_a_text_larger_than_the_budget_is_decoded_but_not_kept() -> None:
    text = entry(4.0)
    entries = DecodedEntries(budget=len(text) - 1)

    assert entries.decode(text)["moments"].mean == 4.0
    assert len(entries) == 0
