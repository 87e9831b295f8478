"""Every numeric option of `retrain-gate diagnose` is range-checked: an out-of-range value is refused with one line
naming the option (exit 2) before anything runs; values at the edges of the ranges are accepted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from airflow_retrain_gate.cli import MAX_RETRIES, MAX_TIMEOUT_S, build_parser

from .gates import train_policy
from .refusals import assert_one_line_error, retrain_gate

REFUSED = [
    ("--timeout", "-1", "'-1' is out of range; give 0.001 to 86400 seconds"),
    ("--timeout", "0", "'0' is out of range"),
    ("--timeout", "nan", "'nan' is out of range"),
    ("--timeout", "inf", "'inf' is out of range"),
    ("--timeout", "-inf", "'-inf' is out of range"),
    ("--timeout", "1e308", "'1e308' is out of range"),
    ("--timeout", str(MAX_TIMEOUT_S + 1), "is out of range"),
    ("--timeout", "ten", "'ten' is not a number"),
    ("--timeout", "", "'' is not a number"),
    ("--retries", "-1", "'-1' is out of range; give 0 to 10"),
    ("--retries", str(MAX_RETRIES + 1), "is out of range"),
    ("--retries", "1000000", "'1000000' is out of range"),
    ("--retries", "1.5", "'1.5' is not a whole number"),
    ("--retries", "1e3", "'1e3' is not a whole number"),
    ("--as-of", "nan", "--as-of: 'nan' is not an ISO-8601 date or timestamp"),
    ("--as-of", "0001-01-01", "windows.reference: -63d..-35d reaches outside the calendar"),
]


@pytest.fixture
def policy_path(tmp_path: Path) -> Path:
    """The train story's policy as a YAML file."""
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(train_policy()))
    return path


@pytest.mark.parametrize(("option", "value", "error"), REFUSED, ids=[f"{o} {v!r}" for o, v, _ in REFUSED])
def test_an_out_of_range_option_is_refused_in_one_line(
    sound_duckdb: str,
    policy_path: Path,
    capsys: pytest.CaptureFixture[str],
    option: str,
    value: str,
    error: str,
) -> None:
    code, out, err = retrain_gate(
        capsys, "diagnose", "--policy", str(policy_path), "--warehouse", sound_duckdb, f"{option}={value}"
    )
    assert_one_line_error(code, out, err, error)
    if option != "--as-of":
        assert err.startswith(f"retrain-gate: argument {option}: ")


@pytest.mark.parametrize(
    ("timeout", "retries"),
    [("0.001", "0"), (str(MAX_TIMEOUT_S), str(MAX_RETRIES))],
    ids=["smallest", "largest"],
)
def test_values_at_the_edges_of_the_ranges_are_accepted(timeout: str, retries: str) -> None:
    args = build_parser().parse_args(
        [
            "diagnose",
            "--policy",
            "p.yaml",
            "--warehouse",
            "duckdb://",
            "--timeout",
            timeout,
            "--retries",
            retries,
        ]
    )
    assert (args.timeout, args.retries) == (float(timeout), int(retries))


def test_the_gate_runs_with_the_largest_values(
    sound_duckdb: str, policy_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = retrain_gate(
        capsys,
        "diagnose",
        *("--policy", str(policy_path), "--warehouse", sound_duckdb, "--as-of", "2024-06-01"),
        *("--timeout", str(MAX_TIMEOUT_S), "--retries", str(MAX_RETRIES)),
    )
    assert (code, err) == (0, "") and json.loads(out)["branch"] == "train"


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["diagnose"], "the following arguments are required: --policy, --warehouse"),
        (
            ["diagnose", "--policy", "p.yaml", "--warehouse", "duckdb://", "--format", "html"],
            "argument --format",
        ),
        (
            ["diagnose", "--policy", "p.yaml", "--warehouse", "duckdb://", "--timeout"],
            "expected one argument",
        ),
        (
            ["diagnose", "--policy", "p.yaml", "--warehouse", "duckdb://", "--frobnicate"],
            "unrecognized arguments",
        ),
        (["frobnicate"], "argument command: invalid choice: 'frobnicate'"),
    ],
    ids=["missing options", "unknown format", "option without value", "unknown option", "unknown command"],
)
def test_command_line_mistakes_get_one_line_not_the_usage_text(
    capsys: pytest.CaptureFixture[str], args: list[str], error: str
) -> None:
    assert_one_line_error(*retrain_gate(capsys, *args), error)


@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("/dev/zero", "/dev/zero: cannot read policy file: it is not a regular file"),
        ("/", "/: cannot read policy file: it is a directory"),
    ],
)
def test_a_policy_path_that_is_no_regular_file_is_refused_without_reading(
    capsys: pytest.CaptureFixture[str], path: str, error: str
) -> None:
    assert_one_line_error(*retrain_gate(capsys, "validate-policy", path), error)
    assert_one_line_error(
        *retrain_gate(capsys, "diagnose", "--policy", path, "--warehouse", "duckdb://"), error
    )
