"""Counts and lists in words: "1 date", "3 dates", "2024-04-02, 2024-04-03, ..."."""

from __future__ import annotations

from collections.abc import Sequence

LISTED = 5
"""Items a message lists before it says "...": the JSON beside it lists them all."""


def plural(count: int, noun: str) -> str:
    """`count` and `noun`, with an "s" unless the count is one; thousands separated ("1,200 rows")."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def first_few(items: Sequence[str], limit: int = LISTED) -> str:
    """The first `limit` items, comma-separated, then ", ..." when there are more."""
    return ", ".join(items[:limit]) + (", ..." if len(items) > limit else "")
