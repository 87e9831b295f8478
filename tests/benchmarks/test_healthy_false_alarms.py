"""The false-alarm harness runs: healthy worlds at a few seeds are counted, and all of them skip."""

from __future__ import annotations

import json

import pytest

from benchmarks.decisions.healthy import main


def test_healthy_worlds_are_counted_and_skip(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--seeds", "2", "--first-seed", "7", "--rows-per-day", "150", "--json"]) == 0
    (tally,) = json.loads(capsys.readouterr().out)

    assert tally["runs"] == 2
    assert tally["branches"] == {"skip": 2}
    assert tally["false_alarm_rate"] == 0.0
