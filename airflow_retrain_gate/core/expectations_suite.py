"""Reads a Great Expectations 1.x suite (GX's JSON format) from a file or the policy, without importing GX."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

SUITE_FIELD = "checks.expectations.suite"


class SuiteError(ValueError):
    """A suite that cannot be used; the message names the policy field and what to fix."""

    def __init__(self, problem: str) -> None:
        self.problem = problem
        super().__init__(f"{SUITE_FIELD}: {problem}")


def resolve_suite_path(path: str, base_dir: Path | None) -> Path:
    """A suite path from the policy, relative to the policy file's directory (else the working directory)."""
    candidate = Path(path).expanduser()
    return candidate if candidate.is_absolute() else (base_dir or Path.cwd()) / candidate


def read_suite(source: str | dict[str, Any]) -> dict[str, Any]:
    """The suite as a mapping (a string is the path of a JSON file); checks the shape GX 1.x writes."""
    if isinstance(source, dict):
        return _checked(source, "the inline suite")
    path = Path(source)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise SuiteError(f"suite file {str(path)!r} not found") from None
    except OSError as error:
        raise SuiteError(f"cannot read suite file {str(path)!r}: {error.strerror or error}") from None
    try:
        suite = json.loads(text)
    except json.JSONDecodeError as error:
        raise SuiteError(f"suite file {str(path)!r} is not JSON: {error}") from None
    return _checked(suite, f"suite file {str(path)!r}")


def suite_types_and_tags(suite: dict[str, Any]) -> tuple[set[str], set[str]]:
    """The expectation types and the ``meta.tags`` a suite uses."""
    types = {expectation["type"] for expectation in suite["expectations"]}
    tags = {
        tag
        for expectation in suite["expectations"]
        for tag in expectation_tags(expectation.get("meta") or {})
    }
    return types, tags


def expectation_tags(meta: dict[str, Any]) -> list[str]:
    """The tags of one expectation: its ``meta.tags`` list (a single string counts as one tag)."""
    tags = meta.get("tags") or []
    return [tags] if isinstance(tags, str) else [str(tag) for tag in tags]


def suite_sha256(suite: dict[str, Any]) -> str:
    """A hash of the suite's content, so a decision names exactly which suite it validated."""
    return hashlib.sha256(json.dumps(suite, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _checked(suite: Any, what: str) -> dict[str, Any]:
    if not isinstance(suite, dict):
        raise SuiteError(f"{what} is a {type(suite).__name__}, not a GX suite object")
    expectations = suite.get("expectations")
    if not isinstance(expectations, list) or not expectations:
        raise SuiteError(f"{what} has no expectations (a GX 1.x suite lists them under 'expectations')")
    for index, expectation in enumerate(expectations):
        where = f"{what}, expectations[{index}]"
        if not isinstance(expectation, dict) or not isinstance(expectation.get("type"), str):
            legacy = (
                " (GX 0.x's 'expectation_type' is 'type' in GX 1.x)"
                if isinstance(expectation, dict) and "expectation_type" in expectation
                else ""
            )
            raise SuiteError(
                f"{where}: an expectation needs a 'type' like 'expect_column_values_to_not_be_null'{legacy}"
            )
        if not isinstance(expectation.get("kwargs", {}), dict):
            raise SuiteError(f"{where}: 'kwargs' must be a mapping")
    return suite
