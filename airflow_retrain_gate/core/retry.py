"""Retries of warehouse reads after transient faults (a refused or lost connection), with exponential backoff."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import sqlalchemy as sa

log = logging.getLogger("airflow_retrain_gate")
Result = TypeVar("Result")


def is_transient(error: sa.exc.SQLAlchemyError) -> bool:
    """Whether trying again may succeed: the connection could not be opened, or was lost mid-query.

    A statement timeout, a SQL error or a read-only violation fails the same way again, so it is not retried.
    """
    if not isinstance(error, sa.exc.DBAPIError):
        return False
    return error.connection_invalidated or error.statement is None


@dataclass(frozen=True)
class RetrySettings:
    """How often a warehouse read is retried after a transient fault, and the wait before the first retry.

    The wait doubles with each retry, up to `max_backoff_s`. `retries=0` (the default) tries once.
    """

    retries: int = 0
    backoff_s: float = 0.5
    max_backoff_s: float = 8.0

    def __post_init__(self) -> None:
        if self.retries < 0 or self.backoff_s < 0 or self.max_backoff_s < 0:
            raise ValueError(f"retries and backoffs must not be negative: {self}")

    def call(self, action: Callable[[], Result], purpose: str) -> Result:
        """Run `action`, retrying it after transient faults; the last fault is raised when retries run out."""
        for attempt in range(self.retries + 1):
            try:
                return action()
            except sa.exc.SQLAlchemyError as error:
                if attempt == self.retries or not is_transient(error):
                    raise
                from airflow_retrain_gate.core.warehouse import short_error  # warehouse imports this module

                delay = min(self.backoff_s * 2**attempt, self.max_backoff_s)
                log.warning(
                    "%s: %s (try %d of %d); retrying in %.2f s",
                    purpose,
                    short_error(error),
                    attempt + 1,
                    self.retries + 1,
                    delay,
                )
                time.sleep(delay)
        raise AssertionError("unreachable: the loop returns or raises")
