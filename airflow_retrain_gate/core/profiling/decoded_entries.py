"""Cached profiles kept decoded in this process, by their JSON text, within a budget of text held.

A backtest merges each day's part on every replayed date that holds the day; decoding its JSON again each time
cost more than the merge. Entries are bounded by the size of their text, not by their number, because a part of
a 300-column table is twenty times one of 15 columns.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from typing import Any

from airflow_retrain_gate.core.profiling.profiles import from_jsonable

TEXT_BUDGET = 16_000_000
"""Characters of JSON kept with their decoded profiles: about 80 MB in all (decoded profiles take about four
times their text), or 420 day parts of a 15-column table."""


class DecodedEntries:
    """Profiles by the text they were decoded from, least recently used dropped first once over the budget."""

    def __init__(self, budget: int = TEXT_BUDGET) -> None:
        self.budget = budget
        self._profiles: OrderedDict[str, Any] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def decode(self, text: str) -> Any:
        """The profile `text` holds, decoded once while it stays within the budget (profiles are never changed
        in place, so callers may share one)."""
        with self._lock:
            if text in self._profiles:
                self._profiles.move_to_end(text)
                return self._profiles[text]
        profile = from_jsonable(json.loads(text))
        with self._lock:
            if text not in self._profiles:
                self._profiles[text] = profile
                self._size += len(text)
                while self._size > self.budget:
                    dropped, _ = self._profiles.popitem(last=False)
                    self._size -= len(dropped)
        return profile

    def __len__(self) -> int:
        return len(self._profiles)


DECODED = DecodedEntries()
"""This process's decoded cache entries."""
