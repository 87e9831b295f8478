"""ReadinessTrigger: the async half of the readiness sensors; polls a probe off the event loop until it is ready."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_retrain_gate.core import WarehouseError
from airflow_retrain_gate.core.readiness import probe_from_dict
from airflow_retrain_gate.core.timeframes import to_utc
from airflow_retrain_gate.hooks.warehouse import WarehouseHook


class ReadinessTrigger(BaseTrigger):
    """Measures a readiness probe every `poke_interval` seconds and fires one event.

    The event payload is ``{"status": "success" | "timeout" | "error", "message": str, "reading": dict | None}``.

    :param warehouse_conn_id: connection of the warehouse to measure.
    :param probe: a probe's ``to_dict()`` (see ``airflow_retrain_gate.core.readiness``).
    :param poke_interval: seconds between two measurements.
    :param deadline: ISO instant after which the trigger gives up with a ``timeout`` event (None: never).
    """

    def __init__(
        self, *, warehouse_conn_id: str, probe: dict[str, Any], poke_interval: float, deadline: str | None
    ) -> None:
        super().__init__()
        self.warehouse_conn_id = warehouse_conn_id
        self.probe = probe
        self.poke_interval = poke_interval
        self.deadline = deadline

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """The class path and every init argument."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "warehouse_conn_id": self.warehouse_conn_id,
                "probe": self.probe,
                "poke_interval": self.poke_interval,
                "deadline": self.deadline,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll until ready, the deadline passes or the warehouse fails; database work runs in a thread."""
        probe = probe_from_dict(self.probe)
        deadline = to_utc(self.deadline) if self.deadline else None
        try:
            warehouse = await WarehouseHook.aget_warehouse(self.warehouse_conn_id)
        except Exception as error:  # noqa: BLE001 - any lookup failure ends the wait with its message
            yield TriggerEvent({"status": "error", "message": str(error), "reading": None})
            return
        try:
            while True:
                try:
                    reading = await asyncio.to_thread(probe.measure, warehouse)
                except WarehouseError as error:
                    yield TriggerEvent({"status": "error", "message": str(error), "reading": None})
                    return
                self.log.info("%s", reading.message)
                if reading.ready:
                    yield TriggerEvent(
                        {"status": "success", "message": reading.message, "reading": reading.to_dict()}
                    )
                    return
                now = datetime.now(UTC)
                if deadline is not None and now >= deadline:
                    message = f"gave up at the deadline {deadline.isoformat()}: {reading.message}"
                    yield TriggerEvent(
                        {"status": "timeout", "message": message, "reading": reading.to_dict()}
                    )
                    return
                pause = (
                    self.poke_interval
                    if deadline is None
                    else min(self.poke_interval, (deadline - now).total_seconds())
                )
                await asyncio.sleep(pause)
        finally:
            await asyncio.to_thread(warehouse.dispose)
