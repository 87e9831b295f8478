"""The registry of checks: each check module registers its name, settings model and evaluator here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from airflow_retrain_gate.core.findings import Action, Finding
from airflow_retrain_gate.core.profiling.kinds import ProfileKind

if TYPE_CHECKING:
    from airflow_retrain_gate.core.checks.context import CheckInputs


class CheckSettings(BaseModel):
    """Settings every check accepts; each check extends it with its own thresholds."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    enabled: bool = True


@dataclass(frozen=True)
class CheckSpec:
    """A registered check: its policy name, settings, the profiles it reads and its evaluator."""

    name: str
    settings_model: type[CheckSettings]
    reads: tuple[ProfileKind, ...]
    """Profile kinds the check consumes (features, outcomes, overrides ...)."""
    action: Action
    """The action a failing finding of this check asks for unless the policy overrides it."""
    summary: str
    evaluate: Callable[[CheckInputs, Any], list[Finding]]
    guards_training: bool = False
    """An input check that can veto `train`: the gate trains only when every such check could judge."""
    explains_shift: bool = False
    """A check naming the cause of a shift (a release, a config change): a policy may set its action to alert
    or fix_features, never to train or none, so that an attributed shift is never retrained on."""


REGISTRY: dict[str, CheckSpec] = {}


def register(
    name: str,
    *,
    settings: type[CheckSettings],
    reads: tuple[ProfileKind, ...],
    action: Action,
    summary: str,
    guards_training: bool = False,
    explains_shift: bool = False,
) -> Callable[[Callable[[CheckInputs, Any], list[Finding]]], Callable[[CheckInputs, Any], list[Finding]]]:
    """Register an evaluator under the name policies use for it; `guards_training` marks an input check
    that must have judged (not insufficient_data, not error) before the gate may decide `train`; `explains_shift`
    marks a check whose failing finding attributes a shift to its cause and so must never allow `train`."""

    def decorate(
        evaluate: Callable[[CheckInputs, Any], list[Finding]],
    ) -> Callable[[CheckInputs, Any], list[Finding]]:
        if name in REGISTRY:
            raise ValueError(f"check {name!r} is registered twice")
        REGISTRY[name] = CheckSpec(
            name, settings, reads, action, summary, evaluate, guards_training, explains_shift
        )
        return evaluate

    return decorate


def training_guards(enabled: list[str], unmapped: frozenset[ProfileKind]) -> frozenset[str]:
    """The enabled checks that can veto `train`, leaving out those whose tables the policy does not map."""
    return frozenset(
        name
        for name in enabled
        if REGISTRY[name].guards_training and not unmapped.intersection(REGISTRY[name].reads)
    )
