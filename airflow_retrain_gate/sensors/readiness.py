"""Sensors that wait until the gate's inputs are ready: fresh features, matured outcomes (poke, reschedule or deferred)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from airflow.sdk import BaseSensorOperator, Context, PokeReturnValue, conf
from airflow.sdk.exceptions import AirflowFailException, AirflowSensorTimeout, AirflowSkipException

from airflow_retrain_gate.core import Policy, PolicyError, WarehouseError
from airflow_retrain_gate.core.readiness import FeatureFreshnessProbe, LabelMaturityProbe, Probe, Reading
from airflow_retrain_gate.core.timeframes import parse_duration
from airflow_retrain_gate.hooks.warehouse import WarehouseHook
from airflow_retrain_gate.operators.arguments import (
    PolicyArgument,
    check_policy_at_parse,
    dag_folder,
    load_policy_argument,
    run_as_of,
)
from airflow_retrain_gate.triggers.readiness import ReadinessTrigger

DEFERRAL_MARGIN_S = 60
"""Seconds the deferral timeout leaves after the trigger's deadline, so the trigger reports the timeout."""
XCOM_MISSED_KEY = "retrain_gate_readiness_missed"
"""The XCom key under which a readiness sensor that gives up pushes what it missed; a downstream gate records it."""


class ReadinessSensor(BaseSensorOperator):
    """Waits until a readiness probe built from the policy is ready; the last reading is the task's XCom value.

    A warehouse error (unreachable, table or column missing) fails the task in every mode; a timeout
    fails it too, or skips it under ``soft_fail=True``, after pushing its limit and last reading to XCom
    (key ``retrain_gate_readiness_missed``), which a downstream RetrainGateOperator records in its decision.

    :param policy: policy YAML path (relative to the DAG file's folder) or mapping (templated).
    :param warehouse_conn_id: connection of the warehouse to read (templated).
    :param as_of: instant the data must be ready for; default: the run's data_interval_end (templated).
    :param deferrable: wait in the triggerer instead of holding a worker slot.
    """

    template_fields: Sequence[str] = ("policy", "warehouse_conn_id", "as_of")
    template_fields_renderers: ClassVar[dict[str, str]] = {"policy": "json"}
    ui_color = "#e4f0e8"

    def __init__(
        self,
        *,
        policy: PolicyArgument,
        warehouse_conn_id: str = WarehouseHook.default_conn_name,
        as_of: str | datetime | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.policy = policy
        self.warehouse_conn_id = warehouse_conn_id
        self.as_of = as_of
        self.deferrable = deferrable
        self._last_reading: dict[str, Any] | None = None
        check_policy_at_parse(policy, dag_folder(self))

    def build_probe(self, policy: Policy, as_of: datetime) -> Probe:
        """The probe this sensor waits on (subclasses say which)."""
        raise NotImplementedError

    def probe(self, context: Context) -> Probe:
        """The probe for this run; a policy error fails the task without retries."""
        try:
            return self.build_probe(
                load_policy_argument(self.policy, dag_folder(self)), run_as_of(context, self.as_of)
            )
        except PolicyError as error:
            raise AirflowFailException(str(error)) from None

    def measure(self, probe: Probe) -> Reading:
        """One reading of `probe` on a warehouse opened for it."""
        warehouse = WarehouseHook(self.warehouse_conn_id).get_warehouse()
        try:
            reading = probe.measure(warehouse)
        finally:
            warehouse.dispose()
        self.log.info("%s", reading.message)
        self._last_reading = reading.to_dict()
        return reading

    def limit(self) -> str:
        """The readiness limit this sensor waits for, as the DAG author set it (subclasses say which)."""
        raise NotImplementedError

    def report_missed(self, context: Context, reading: dict[str, Any] | None) -> None:
        """Push the limit and the last reading of a sensor that gives up (key ``retrain_gate_readiness_missed``)."""
        missed = {"sensor": self.task_id, "limit": self.limit(), "reading": reading}
        context["ti"].xcom_push(key=XCOM_MISSED_KEY, value=missed)

    def poke(self, context: Context) -> PokeReturnValue:
        """Measure once; done when the probe is ready."""
        reading = self.measure(self.probe(context))
        return PokeReturnValue(is_done=reading.ready, xcom_value=reading.to_dict())

    def execute(self, context: Context) -> Any:
        """Poke (or reschedule) until ready; deferrable: measure once, then wait in the triggerer."""
        if not self.deferrable:
            try:
                return super().execute(context)
            except (AirflowSensorTimeout, AirflowSkipException):
                self.report_missed(context, self._last_reading)
                raise
        probe = self.probe(context)
        reading = self.measure(probe)
        if reading.ready:
            return reading.to_dict()
        self.defer(
            trigger=ReadinessTrigger(
                warehouse_conn_id=self.warehouse_conn_id,
                probe=probe.to_dict(),
                poke_interval=self.poke_interval,
                deadline=(datetime.now(UTC) + timedelta(seconds=self.timeout)).isoformat(),
            ),
            method_name="execute_complete",
            # A backstop: the trigger's own deadline ends the wait first, with the last reading for the gate.
            timeout=timedelta(seconds=self.timeout + DEFERRAL_MARGIN_S),
        )

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        """Resume from the trigger: return the reading, or raise its timeout or warehouse error."""
        if event["status"] == "success":
            self.log.info("%s", event["message"])
            return event["reading"]
        if event["status"] == "timeout":
            self.report_missed(context, event["reading"])
            raise AirflowSensorTimeout(event["message"])
        raise WarehouseError(event["message"])


class FeatureFreshnessSensor(ReadinessSensor):
    """Waits until the policy's feature table has rows up to `as_of` minus an allowed lag.

    :param max_lag: allowed lag, e.g. ``"6h"``; default: the policy's ``checks.freshness.max_lag``.
    """

    def __init__(self, *, max_lag: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if max_lag is not None:
            parse_duration(max_lag)
        self.max_lag = max_lag

    def limit(self) -> str:
        """``max_lag <lag>``, or the policy's when the sensor sets none."""
        return f"max_lag {self.max_lag}" if self.max_lag else "the policy's checks.freshness.max_lag"

    def build_probe(self, policy: Policy, as_of: datetime) -> Probe:
        """A freshness probe of ``tables.features``."""
        return FeatureFreshnessProbe.for_policy(policy, as_of, self.max_lag)


class LabelMaturitySensor(ReadinessSensor):
    """Waits until enough predictions of the policy's current window have a matured outcome.

    :param min_share: share of predictions that need a known outcome; default: the policy's
        ``checks.label_maturity.min_share``.
    """

    def __init__(self, *, min_share: float | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if min_share is not None and not 0 < min_share <= 1:
            raise ValueError(f"min_share: {min_share} is not a share in (0, 1]")
        self.min_share = min_share

    def limit(self) -> str:
        """``min_share <share>``, or the policy's when the sensor sets none."""
        return (
            f"min_share {self.min_share}"
            if self.min_share
            else "the policy's checks.label_maturity.min_share"
        )

    def build_probe(self, policy: Policy, as_of: datetime) -> Probe:
        """A maturity probe joining ``tables.predictions`` to ``tables.outcomes``."""
        return LabelMaturityProbe.for_policy(policy, as_of, self.min_share)
