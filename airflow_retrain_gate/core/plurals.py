"""Counts in words: "1 date", "3 dates"."""

from __future__ import annotations


def plural(count: int, noun: str) -> str:
    """`count` and `noun`, with an "s" unless the count is one; thousands separated ("1,200 rows")."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"
