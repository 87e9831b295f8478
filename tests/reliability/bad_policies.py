"""The corpus of bad policy files: each must be refused with one line naming the field, before any query."""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

BASE: dict[str, Any] = {
    "name": "fraud-scorer",
    "tables": {
        "features": {
            "table": "features",
            "timestamp": "event_ts",
            "numeric": ["basket_value", "tenure_score"],
            "categorical": ["query_intent"],
        },
        "predictions": {
            "table": "predictions",
            "timestamp": "event_ts",
            "entity": "entity_id",
            "score": "score",
        },
    },
}
"""A valid policy; each case changes one thing in it (or replaces the whole file)."""


@dataclass(frozen=True)
class BadPolicy:
    """A policy file and a fragment of the one-line error it must get."""

    name: str
    text: str
    error: str
    prepare: Callable[[Path], None] | None = None
    """Called with the written `policy.yaml`: adds base policies beside it, or replaces it (FIFO, device)."""


def edited(path: str, value: Any) -> str:
    """BASE with the dotted `path` set to `value` (None removes the key), as YAML."""
    policy = copy.deepcopy(BASE)
    *parents, last = path.split(".")
    section = policy
    for key in parents:
        section = section.setdefault(key, {})
    if value is None:
        del section[last]
    else:
        section[last] = value
    return yaml.safe_dump(policy, sort_keys=False)


VALID = edited("name", "fraud-scorer")
WINDOWS = "windows"


def _replaced_by(make: Callable[[Path], None]) -> Callable[[Path], None]:
    """Replace `policy.yaml` with what `make` creates at its path."""

    def prepare(path: Path) -> None:
        path.unlink()
        make(path)

    return prepare


def extends_chain(length: int) -> Callable[[Path], None]:
    """Write base0.yaml .. base<length-1>.yaml beside the policy, each extending the next (the last is VALID)."""

    def prepare(path: Path) -> None:
        for index in range(length - 1):
            (path.parent / f"base{index}.yaml").write_text(f"extends: base{index + 1}.yaml\n")
        (path.parent / f"base{length - 1}.yaml").write_text(VALID)

    return prepare


def _nested_blocks(depth: int) -> str:
    """A block mapping nested `depth` levels deep under `tables`."""
    return (
        "name: x\ntables:\n"
        + "".join(" " * level + "a:\n" for level in range(1, depth))
        + " " * depth
        + "b: 1\n"
    )


CORPUS: tuple[BadPolicy, ...] = (
    BadPolicy("malformed YAML: unclosed bracket", "name: x\ntables: [\n", "malformed YAML at line 3"),
    BadPolicy(
        "malformed YAML: a tab indents", VALID.replace("  features", "\tfeatures"), "malformed YAML at line 3"
    ),
    BadPolicy("malformed YAML: a NUL byte", "name: x\x00\n", "malformed YAML: unacceptable character #x0000"),
    BadPolicy(
        "YAML tag that would run code",
        "name: !!python/object/apply:os.system ['touch /tmp/pwned']\n",
        "could not determine a constructor for the tag 'tag:yaml.org,2002:python/object/apply:os.system'",
    ),
    BadPolicy("not UTF-8", "name: caf\xe9\n", "not UTF-8 text"),
    BadPolicy("empty file", "", "the file is empty; a policy needs at least `name` and `tables.features`"),
    BadPolicy("a list, not a mapping", "- name: x\n", "a policy is a mapping of keys, not a list"),
    BadPolicy("duplicate key", VALID + "name: other\n", "duplicate key 'name'"),
    BadPolicy(
        "duplicate section",
        VALID + "tables:\n  features: {table: f2, timestamp: ts}\n",
        "duplicate key 'tables'",
    ),
    BadPolicy("unknown top-level key", VALID + "tabels: {}\n", "tabels: unknown key"),
    BadPolicy(
        "unknown nested key",
        edited("tables.features.timestmap", "event_ts"),
        "tables.features.timestmap: unknown key",
    ),
    BadPolicy("unknown check", edited("checks.drfit", {}), "checks.drfit: unknown check 'drfit'"),
    BadPolicy(
        "unknown check in actions", edited("actions.freshnes", "alert"), "actions.freshnes: unknown check"
    ),
    BadPolicy(
        "missing tables.features", edited("tables.features", None), "tables.features: required key is missing"
    ),
    BadPolicy(
        "missing timestamp",
        edited("tables.features.timestamp", None),
        "tables.features.timestamp: required key is missing",
    ),
    BadPolicy(
        "a string where a list belongs",
        edited("tables.features.numeric", "basket_value"),
        "tables.features.numeric: Input should be a valid list",
    ),
    BadPolicy(
        "a number as a table name",
        edited("tables.features.table", 42),
        "tables.features.table: Input should be a valid string",
    ),
    BadPolicy(
        "text as a threshold",
        edited("checks.drift.warn", "high"),
        "checks.drift.warn: Input should be a valid number",
    ),
    BadPolicy(
        "a negative threshold",
        edited("checks.drift.warn", -0.1),
        "checks.drift.warn: Input should be greater than 0",
    ),
    BadPolicy(
        "an infinite threshold",
        edited("checks.drift.fail", float("inf")),
        "checks.drift.fail: Input should be a finite number",
    ),
    BadPolicy(
        "a NaN threshold",
        VALID + "checks:\n  null_rate: {max_increase: .nan}\n",
        "checks.null_rate.max_increase",
    ),
    BadPolicy(
        "warn above fail",
        edited("checks.drift", {"warn": 0.5, "fail": 0.1}),
        "checks.drift: warn (0.5) must not exceed fail (0.1)",
    ),
    BadPolicy(
        "an infinite filter value",
        edited("tables.predictions.filters", {"version": float("-inf")}),
        "tables.predictions.filters.version",
    ),
    BadPolicy(
        "an inverted window",
        edited(WINDOWS, {"reference": {"start": "-35d", "end": "-63d"}}),
        "windows.reference: start '-35d' must come before end '-63d'",
    ),
    BadPolicy(
        "an empty window",
        edited(WINDOWS, {"current": {"start": "-7d", "end": "-7d"}}),
        "windows.current: start '-7d' must come before end '-7d'",
    ),
    BadPolicy(
        "an inverted window of dates",
        VALID + "windows:\n  reference: {start: 2024-05-01, end: 2024-04-01}\n",
        "windows.reference: start 2024-05-01T00:00:00+00:00 must come before end 2024-04-01T00:00:00+00:00",
    ),
    BadPolicy(
        "an unknown unit",
        edited(WINDOWS, {"current": {"start": "-7x", "end": "0d"}}),
        "windows.current.start: '-7x' is neither a relative duration",
    ),
    BadPolicy(
        "a window beyond any calendar",
        edited(WINDOWS, {"reference": {"start": "-99999999999d", "end": "-35d"}}),
        "windows.reference.start",
    ),
    BadPolicy("on_error: train", edited("on_error", "train"), "on_error: 'train' is not allowed"),
    BadPolicy(
        "on_error: unknown branch",
        edited("on_error", "retry"),
        "on_error: Input should be 'alert', 'fix_features' or 'skip'",
    ),
    BadPolicy(
        "a column listed twice",
        edited("tables.features.categorical", ["basket_value"]),
        "tables.features: column 'basket_value' is listed twice (in numeric and categorical)",
    ),
    BadPolicy(
        "the timestamp as a feature",
        edited("tables.features.numeric", ["event_ts"]),
        "tables.features: the timestamp column 'event_ts' is also listed as a feature",
    ),
    BadPolicy(
        "an empty table name", edited("tables.features.table", " "), "tables.features.table: an empty name"
    ),
    BadPolicy(
        "a NUL in a column name",
        edited("tables.features.timestamp", "ts\x00; DROP"),
        "tables.features.timestamp: a name may not contain NUL",
    ),
    BadPolicy(
        "a cooldown that is not a duration", edited("cooldown", "soon"), "cooldown: 'soon' is not a duration"
    ),
    BadPolicy("a negative cooldown", edited("cooldown", "-7d"), "cooldown: '-7d' must be positive"),
    BadPolicy("an empty name", edited("name", ""), "name: String should have at least 1 character"),
    BadPolicy(
        "a mapping as a filter value",
        edited("tables.predictions.filters", {"model_name": {"$ne": 1}}),
        "tables.predictions.filters.model_name",
    ),
    BadPolicy(
        "zero minimum rows",
        edited("statistics.min_rows", 0),
        "statistics.min_rows: Input should be greater than or equal to 1",
    ),
    BadPolicy(
        "extends a missing base",
        "extends: platform.yaml\n" + VALID,
        "extends: base policy 'platform.yaml' not found",
    ),
    BadPolicy("extends itself", "extends: policy.yaml\n" + VALID, "extends: cycle between policies"),
    BadPolicy(
        "the policy is /dev/zero",
        VALID,
        "cannot read policy file: it is not a regular file",
        prepare=_replaced_by(lambda path: path.symlink_to("/dev/zero")),
    ),
    BadPolicy(
        "the policy is a FIFO",
        VALID,
        "cannot read policy file: it is not a regular file",
        prepare=_replaced_by(lambda path: os.mkfifo(path)),
    ),
    BadPolicy(
        "the policy is a directory",
        VALID,
        "cannot read policy file: it is a directory",
        prepare=_replaced_by(lambda path: path.mkdir()),
    ),
    BadPolicy(
        "extends /dev/zero",
        "extends: /dev/zero\n" + VALID,
        "/dev/zero: cannot read policy file: it is not a regular",
    ),
    BadPolicy("a 10 MB policy", VALID + "# padding\n" * 1_000_000, "the file is larger than 1024 KiB"),
    BadPolicy(
        "a policy one byte over 1 MiB",
        VALID + "#" * (1024 * 1024 - len(VALID)) + "\n",
        "the file is larger than 1024 KiB",
    ),
    BadPolicy(
        "YAML lists nested 1000 deep",
        "name: x\ntables: " + "[" * 1000 + "]" * 1000 + "\n",
        "nested deeper than 50 levels",
    ),
    BadPolicy(
        "YAML mappings nested 1000 deep",
        _nested_blocks(1000),
        "malformed YAML at line 51, column 50: nested deeper",
    ),
    BadPolicy(
        "YAML nested 51 deep",
        "name: x\ntables: " + "[" * 50 + "]" * 50 + "\n",
        "nested deeper than 50 levels",
    ),
    BadPolicy(
        "an extends chain of 1500 files",
        "extends: base0.yaml\n" + VALID,
        "extends: a chain of more than 20 policy files",
        prepare=extends_chain(1500),
    ),
    BadPolicy(
        "an extends chain of 21 files",
        "extends: base0.yaml\n" + VALID,
        "extends: a chain of more than 20 policy files",
        prepare=extends_chain(20),
    ),
    BadPolicy(
        "3000 unknown keys (an error of 200 kB, cut to one line)",
        VALID + "".join(f"k{index}: 1\n" for index in range(3000)),
        "k0: unknown key",
    ),
    BadPolicy(
        "a key with a newline and ANSI escapes",
        VALID + '"x\\n## Forged\\e[31m": 1\n',
        "x ## Forged\\x1b[31m: unknown key",
    ),
    BadPolicy(
        "a window bound without a unit",
        edited(WINDOWS, {"current": {"start": -7, "end": "0d"}}),
        "windows.current.start: -7 has no unit",
    ),
    BadPolicy(
        "a quoted window bound without a unit",
        edited(WINDOWS, {"current": {"start": "-7", "end": "0d"}}),
        "windows.current.start: '-7' has no unit",
    ),
    BadPolicy(
        "an epoch timestamp as a window bound",
        edited(WINDOWS, {"reference": {"start": 1714521600, "end": "-35d"}}),
        "windows.reference.start: 1714521600 has no unit",
    ),
    BadPolicy("a cooldown without a unit", edited("cooldown", 7), "cooldown: 7 has no unit"),
    BadPolicy(
        "a freshness lag without a unit",
        edited("checks.freshness.max_lag", "3600"),
        "checks.freshness.max_lag: '3600' has no unit",
    ),
)
