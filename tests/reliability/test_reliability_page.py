"""docs/reliability.md lists every case the corpus holds, with the counts the summary gives."""

from __future__ import annotations

from pathlib import Path

from . import bad_data, bad_policies
from .test_concurrency import GATES

PAGE = Path(__file__).parents[2] / "docs" / "reliability.md"


def test_the_page_lists_every_bad_input_and_counts_them() -> None:
    page = PAGE.read_text()
    missing = [
        case.name for case in (*bad_policies.CORPUS, *bad_data.CORPUS) if f"| {case.name} |" not in page
    ]
    assert not missing, f"add these cases to docs/reliability.md: {missing}"
    assert (
        f"| {len(bad_policies.CORPUS)} files, {3 * len(bad_policies.CORPUS)} refusals, 0 accepted |" in page
    )
    assert f"| {len(bad_data.CORPUS)} variants, 0 `train` |" in page
    assert f"| {GATES} processes," in page
