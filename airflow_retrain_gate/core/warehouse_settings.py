"""The policy's `warehouse` section: how long the gate waits for a connection and for each read."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from airflow_retrain_gate.core.policy_types import Duration
from airflow_retrain_gate.core.timeframes import parse_duration


class WarehouseSettings(BaseModel):
    """Time limits of warehouse reads; the CLI's `--timeout` or a connection's `statement_timeout_s` win over them."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    statement_timeout: Duration = Field(
        default="10m",
        description="Longest a single read may run; the warehouse cancels it after that (on_error decides).",
    )
    connect_timeout: Duration = Field(
        default="30s",
        description="Longest the gate waits to open a connection (capped by the statement timeout).",
    )

    @field_validator("statement_timeout", "connect_timeout")
    @classmethod
    def _positive(cls, value: str) -> str:
        if parse_duration(value).total_seconds() <= 0:
            raise ValueError(f"{value!r} must be positive, e.g. '10m' or '30s'")
        return value

    @property
    def statement_timeout_s(self) -> float:
        """The statement timeout in seconds."""
        return parse_duration(self.statement_timeout).total_seconds()

    @property
    def connect_timeout_s(self) -> float:
        """The connect timeout in seconds."""
        return parse_duration(self.connect_timeout).total_seconds()
