"""Running `retrain-gate` in this process, and what a refused command line or policy must look like."""

from __future__ import annotations

import pytest

from airflow_retrain_gate.cli import main
from airflow_retrain_gate.core.escaping import ERROR_LINE_LIMIT

PREFIX = "retrain-gate: "


def retrain_gate(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run the `retrain-gate` command in this process; returns (exit code, stdout, stderr)."""
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, out: str, err: str, expected: str) -> None:
    """Exit code 2, nothing on stdout, and one short printable line on stderr holding `expected`."""
    assert code == 2
    assert out == ""
    assert err.startswith(PREFIX) and err.count("\n") == 1, err[:2000]
    assert expected in err and "Traceback" not in err, err[:2000]
    assert len(err) <= len(PREFIX) + ERROR_LINE_LIMIT + 1, len(err)
    assert err[:-1].isprintable(), err  # no ANSI escape or other control character reaches the terminal
