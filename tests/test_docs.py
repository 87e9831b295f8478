"""Documentation generated from the code stays in step with it."""

from __future__ import annotations

from pathlib import Path

from airflow_retrain_gate.cli import checks_markdown

ROOT = Path(__file__).parents[1]


def test_the_checks_page_lists_every_check_with_its_current_defaults() -> None:
    page = (ROOT / "docs" / "checks.md").read_text()
    assert checks_markdown() in page, "regenerate docs/checks.md from `retrain-gate checks`"
