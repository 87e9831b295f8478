"""Stopping a gate from outside: SIGTERM or Ctrl-C cancels its running warehouse queries before the process ends."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

Result = TypeVar("Result")
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
CANCEL_GRACE_S = 5.0
"""How long the stopped gate waits for its cancelled queries to return before the process exits anyway."""
CANCEL_ROUND_S = 0.2
"""How often the stopped gate cancels again while it waits."""


class Terminated(Exception):
    """The process was asked to stop while the gate ran; its queries were cancelled."""

    def __init__(self, signum: int, abandoned: bool = False) -> None:
        self.signum = signum
        # Reads were still running when the grace ended: the process must exit without waiting for them.
        self.abandoned = abandoned
        super().__init__(
            f"stopped by {signal.Signals(signum).name}: running warehouse queries were cancelled, no decision made"
        )

    @property
    def exit_code(self) -> int:
        """The shell's convention for a process ended by a signal: 128 + its number."""
        return 128 + self.signum


def run_until_terminated(action: Callable[[], Result], cancel: Callable[[], None]) -> Result:
    """Run `action` in a worker thread; on SIGTERM or SIGINT call `cancel`, wait briefly, and raise Terminated.

    A blocked driver call in the main thread would keep the signal handler from running until the query ends,
    so the main thread only waits. Outside the main thread (where handlers cannot be installed) `action` just runs.
    """
    if threading.current_thread() is not threading.main_thread():
        return action()
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["value"] = action()
        except BaseException as error:  # noqa: BLE001 - handed to the main thread as is
            outcome["error"] = error

    worker = threading.Thread(target=work, name="retrain-gate", daemon=True)

    def stop(signum: int, _: Any) -> None:
        deadline = time.monotonic() + CANCEL_GRACE_S
        while True:
            # Again on each round: a read that was starting at the previous call had nothing to cancel yet.
            cancel()
            worker.join(CANCEL_ROUND_S)
            if not worker.is_alive() or time.monotonic() >= deadline:
                raise Terminated(signum, abandoned=worker.is_alive())

    previous = {number: signal.signal(number, stop) for number in STOP_SIGNALS}
    try:
        worker.start()
        while worker.is_alive():
            worker.join(0.2)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
