"""The policy (format v1): which tables to watch, windows, thresholds, actions; loaded from YAML and validated."""

from __future__ import annotations

import hashlib
import json
import stat
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)

from airflow_retrain_gate.core.checks import REGISTRY
from airflow_retrain_gate.core.escaping import one_line
from airflow_retrain_gate.core.findings import Action, Branch
from airflow_retrain_gate.core.policy_types import Bound, ClassValue, Duration, Identifier
from airflow_retrain_gate.core.timeframes import TimeWindow, parse_duration, to_utc
from airflow_retrain_gate.core.warehouse_settings import WarehouseSettings


class PolicyError(ValueError):
    """A policy that cannot be used; the message names each offending field path."""

    def __init__(self, problems: list[str], source: str | None = None) -> None:
        self.problems = problems
        self.source = source
        where = f"{source}: " if source else ""
        super().__init__(one_line(where + "; ".join(problems)))


FilterValue = str | int | float | bool
Strict = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _sql_literal(value: FilterValue) -> str:
    """A filter value the way SQL writes it: 'text' quoted, true/false, numbers as they are."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return f"{value:g}" if isinstance(value, float) else str(value)


class TableMapping(BaseModel):
    """A warehouse table the gate reads, with optional equality filters (a list means IN)."""

    model_config = Strict
    table: Identifier = Field(description="Table name, optionally schema-qualified: analytics.features")
    filters: dict[Identifier, FilterValue | list[FilterValue]] = Field(
        default_factory=dict, description="Equality (or IN for a list) filters, bound as parameters."
    )

    @property
    def subject(self) -> str:
        """The table as findings name it, with its filters, so that a shared table names the slice that was
        judged: ``ml.customer_features[customer_type = 'consumer']``."""
        if not self.filters:
            return self.table
        conditions = ", ".join(
            f"{column} IN ({', '.join(map(_sql_literal, value))})"
            if isinstance(value, list)
            else f"{column} = {_sql_literal(value)}"
            for column, value in self.filters.items()
        )
        return f"{self.table}[{conditions}]"

    def mapped_columns(self) -> dict[str, str]:
        """Policy field name -> column name for every column this mapping names."""
        columns = {
            name: value
            for name, value in self.__dict__.items()
            if name not in {"table", "filters", "control_arm"} and isinstance(value, str)
        }
        columns.update({f"filters.{column}": column for column in self.filters})
        return columns


class KeyedTable(TableMapping):
    """A table whose rows have a key: duplicate rows per key are counted (default key: entity and timestamp)."""

    key: list[Identifier] | None = Field(
        default=None, min_length=1, description="Columns identifying one row; default: entity and timestamp."
    )

    def mapped_columns(self) -> dict[str, str]:
        """Policy field name -> column name, key columns included."""
        columns = super().mapped_columns()
        columns.update({f"key[{i}]": column for i, column in enumerate(self.key or [])})
        return columns

    def row_key(self) -> dict[str, str] | None:
        """Policy field -> column of the columns identifying a row: `key`, else entity and timestamp; None if neither."""
        if self.key:
            return {f"key[{i}]": column for i, column in enumerate(self.key)}
        entity, timestamp = getattr(self, "entity", None), getattr(self, "timestamp", None)
        return {"entity": entity, "timestamp": timestamp} if entity and timestamp else None


class VersionedTable(TableMapping):
    """A table that may name version or config columns, whose changes the gate attributes shifts to."""

    versions: list[Identifier] = Field(
        default_factory=list,
        description="Version or config columns (prompt_version, app_version, ui_variant): a shift in outcomes, "
        "the proxy or the scores that starts when a new value takes over is attributed to it (change_attribution).",
    )

    @field_validator("versions")
    @classmethod
    def _distinct_versions(cls, versions: list[str]) -> list[str]:
        for index, column in enumerate(versions):
            if column in versions[:index]:
                raise ValueError(f"column {column!r} is listed twice")
        return versions

    @model_validator(mode="after")
    def _versions_apart(self) -> VersionedTable:
        roles = {
            column: field for field, column in TableMapping.mapped_columns(self).items() if "." not in field
        }
        for index, column in enumerate(self.versions):
            if column in roles:
                raise ValueError(
                    f"versions[{index}]: column {column!r} is already mapped as {roles[column]}; a version column "
                    "holds the release or config a row was served with (prompt_version, app_version)"
                )
        return self

    def mapped_columns(self) -> dict[str, str]:
        """Policy field name -> column name, version columns included."""
        columns = super().mapped_columns()
        columns.update({f"versions[{i}]": column for i, column in enumerate(self.versions)})
        return columns


class FeaturesTable(KeyedTable, VersionedTable):
    """The model's input features."""

    timestamp: Identifier
    entity: Identifier | None = None
    numeric: list[Identifier] = Field(default_factory=list)
    categorical: list[Identifier] = Field(default_factory=list)
    segment: Identifier | None = Field(default=None, description="Cohort column for segment-mix checks.")

    @model_validator(mode="after")
    def _distinct_columns(self) -> FeaturesTable:
        seen: dict[str, str] = {}
        for role in ("numeric", "categorical"):
            for column in getattr(self, role):
                if column in seen:
                    raise ValueError(f"column {column!r} is listed twice (in {seen[column]} and {role})")
                seen[column] = role
        if self.timestamp in seen:
            raise ValueError(f"the timestamp column {self.timestamp!r} is also listed as a feature")
        return self

    def mapped_columns(self) -> dict[str, str]:
        """Policy field name -> column name, feature lists included."""
        columns = super().mapped_columns()
        columns.update({f"numeric[{i}]": column for i, column in enumerate(self.numeric)})
        columns.update({f"categorical[{i}]": column for i, column in enumerate(self.categorical)})
        return columns


class PredictionsTable(KeyedTable, VersionedTable):
    """What the model predicted, one row per scored entity."""

    timestamp: Identifier
    entity: Identifier
    score: Identifier
    band: Identifier | None = Field(default=None, description="Predicted band (low/medium/high ...).")
    class_scores: dict[ClassValue, Identifier] | None = Field(
        default=None,
        description="Multiclass: one score column (a probability) per class of tables.outcomes.classes.",
    )
    predicted_class: Identifier | None = Field(
        default=None,
        description="Multiclass: the column holding the predicted class; `score` is then its confidence.",
    )

    def mapped_columns(self) -> dict[str, str]:
        """Policy field name -> column name, class score columns included."""
        columns = super().mapped_columns()
        columns.update({f"class_scores.{name}": column for name, column in (self.class_scores or {}).items()})
        return columns


class OutcomesTable(VersionedTable):
    """Ground truth, joined to predictions on the entity key."""

    entity: Identifier
    label_timestamp: Identifier = Field(description="When the outcome became known (maturity).")
    label: Identifier
    proxy: Identifier | None = Field(default=None, description="A proxy the model is trained or judged on.")
    engagement: Identifier | None = Field(default=None, description="An engagement measure behind the proxy.")
    classes: list[ClassValue] | None = Field(
        default=None,
        min_length=2,
        description="Multiclass: the values the label takes (one class each); the predictions then map "
        "class_scores or predicted_class.",
    )

    @field_validator("classes")
    @classmethod
    def _distinct_classes(cls, classes: list[ClassValue] | None) -> list[ClassValue] | None:
        names = [str(value) for value in classes or ()]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"class {repeated[0]!r} is listed twice")
        return classes


class OverridesTable(TableMapping):
    """Manual overrides of the model's decisions (trust)."""

    timestamp: Identifier
    flag: Identifier


class EventsTable(TableMapping):
    """Known events (campaigns, launches, incidents) that may explain a change."""

    starts_at: Identifier
    ends_at: Identifier | None = None
    kind: Identifier | None = None
    description: Identifier | None = None


class TrainingSignalsTable(TableMapping):
    """The rows the next training set would learn from."""

    timestamp: Identifier
    active: Identifier | None = Field(default=None, description="1 = active user.")
    experiment_arm: Identifier | None = None
    control_arm: str = Field(
        default="control", description="Value of experiment_arm meaning 'no experiment'."
    )
    feedback_complete: Identifier | None = None


def _multiclass_problem(predictions: PredictionsTable | None, outcomes: OutcomesTable | None) -> str | None:
    """Why the multiclass fields of the predictions and outcomes do not fit together, or None."""
    classes = outcomes.classes if outcomes else None
    forms = [name for name in ("class_scores", "predicted_class") if getattr(predictions, name, None)]
    if not classes:
        return (
            f"predictions.{forms[0]}: list the label's values in outcomes.classes for a multiclass model"
            if forms
            else None
        )
    if len(forms) != 1:
        return (
            "outcomes.classes: a multiclass label needs predictions mapping one of class_scores (a score column "
            "per class) or predicted_class (with score as its confidence)"
            + (", not both" if len(forms) == 2 else "")
        )
    if predictions is None or predictions.class_scores is None:
        return None
    expected = [str(value) for value in classes]
    given = [str(value) for value in predictions.class_scores]
    missing = [name for name in expected if name not in given]
    unknown = [name for name in given if name not in expected]
    if missing:
        return f"predictions.class_scores: no score column for class {missing[0]!r} (classes: {', '.join(expected)})"
    if unknown:
        return f"predictions.class_scores.{unknown[0]}: not one of outcomes.classes ({', '.join(expected)})"
    return None


class Tables(BaseModel):
    """The tables a policy maps; only `features` is required."""

    model_config = Strict
    features: FeaturesTable
    predictions: PredictionsTable | None = None
    outcomes: OutcomesTable | None = None
    overrides: OverridesTable | None = None
    events: EventsTable | None = None
    training_signals: TrainingSignalsTable | None = None

    @model_validator(mode="after")
    def _multiclass_pairing(self) -> Tables:
        problem = _multiclass_problem(self.predictions, self.outcomes)
        if problem:
            raise ValueError(problem)
        return self


class WindowSpec(BaseModel):
    """A half-open window [start, end), relative to as_of (s, m, h, d, w) or absolute ISO dates."""

    model_config = Strict
    start: Bound
    end: Bound

    @model_validator(mode="after")
    def _ordered(self) -> WindowSpec:
        try:
            start, end = parse_duration(self.start), parse_duration(self.end)
        except (ValueError, TypeError):
            try:
                start_at, end_at = to_utc(self.start), to_utc(self.end)
            except ValueError:
                return self  # one bound relative, one absolute: compared once as_of is known
            if start_at >= end_at:
                raise ValueError(
                    f"start {start_at.isoformat()} must come before end {end_at.isoformat()}"
                ) from None
            return self
        if start >= end:
            raise ValueError(f"start {self.start!r} must come before end {self.end!r}")
        return self


class Windows(BaseModel):
    """The reference window (what normal looked like) and the current window (what is judged)."""

    model_config = Strict
    reference: WindowSpec = WindowSpec(start="-63d", end="-35d")
    current: WindowSpec = WindowSpec(start="-7d", end="0d")
    label_delay: Duration | None = Field(
        default=None,
        description="How long outcomes take to become known. The outcome checks judge the predictions of both "
        "windows moved back by it (28d: the outcomes of predictions made 35 to 28 days ago); the inputs are "
        "still judged over the windows themselves.",
    )

    @field_validator("label_delay")
    @classmethod
    def _non_negative_delay(cls, label_delay: str | None) -> str | None:
        if label_delay is not None and parse_duration(label_delay).total_seconds() < 0:
            raise ValueError(f"{label_delay!r} must not be negative: it is how long labels take to arrive")
        return label_delay

    def outcome_windows(self, reference: TimeWindow, current: TimeWindow) -> tuple[TimeWindow, TimeWindow]:
        """The windows whose predictions the outcome checks judge: `reference` and `current` moved back by
        `label_delay` (unchanged without one)."""
        delay = parse_duration(self.label_delay) if self.label_delay else timedelta(0)
        return reference.earlier(delay), current.earlier(delay)


class StatisticsSettings(BaseModel):
    """How statistical significance guards effect sizes."""

    model_config = Strict
    alpha: float = Field(default=0.001, gt=0, lt=1, description="Significance level of every test.")
    large_sample: int = Field(
        default=100_000,
        ge=1,
        description="Above this many rows p-values are only reported: effect sizes alone decide.",
    )
    min_rows: int = Field(
        default=200, ge=1, description="Fewer rows than this in a window: insufficient_data."
    )


class BranchTasks(BaseModel):
    """Downstream task ids per branch; `skip` has none (it short-circuits)."""

    model_config = Strict
    fix_features: str | list[str] | None = None
    alert: str | list[str] | None = None
    train: str | list[str] | None = None


def settings_field(check: str) -> str:
    """The ChecksConfig attribute of a check ('schema' would shadow a pydantic method, so it gets a '_')."""
    return f"{check}_" if hasattr(BaseModel, check) else check


ChecksConfig: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "ChecksConfig",
    __config__=ConfigDict(extra="forbid", frozen=True, populate_by_name=True),
    __doc__="Per-check settings; every check runs with its defaults unless `enabled: false`.",
    **{
        settings_field(name): (spec.settings_model, Field(default=spec.settings_model(), alias=name))
        for name, spec in sorted(REGISTRY.items())
    },
)


class Policy(BaseModel):
    """A retrain policy (format v1)."""

    model_config = Strict
    name: str = Field(min_length=1, description="Shown in every decision.")
    description: str | None = None
    windows: Windows = Windows()
    tables: Tables
    checks: ChecksConfig = ChecksConfig()  # type: ignore[valid-type]
    actions: dict[str, Literal["none", "fix_features", "alert", "train"]] = Field(
        default_factory=dict, description="Per-check override of the action a failing check asks for."
    )
    cooldown: Duration | None = Field(default=None, description="Minimum time between two `train` decisions.")
    on_error: Literal["alert", "fix_features", "skip"] = Field(
        default="alert", description="Branch when the gate cannot diagnose; never train."
    )
    statistics: StatisticsSettings = StatisticsSettings()
    warehouse: WarehouseSettings = WarehouseSettings()
    branches: BranchTasks = BranchTasks()

    @model_validator(mode="before")
    @classmethod
    def _known_names(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        if data.get("on_error") == "train":
            raise ValueError(
                "on_error: 'train' is not allowed: a gate that cannot diagnose must never retrain "
                "(use alert, fix_features or skip)"
            )
        known = ", ".join(sorted(REGISTRY))
        actions = data.get("actions")
        for check, action in actions.items() if isinstance(actions, dict) else ():
            if action == "train" and check in REGISTRY and REGISTRY[check].action is Action.FIX_FEATURES:
                raise ValueError(
                    f"actions.{check}: {check} finds broken inputs; it cannot ask for train (training on broken "
                    "inputs is what the gate prevents): use fix_features, alert or none"
                )
            if action in ("train", "none") and check in REGISTRY and REGISTRY[check].explains_shift:
                raise ValueError(
                    f"actions.{check}: {check} attributes a shift to a release or config change; retraining on "
                    f"(or ignoring) an attributed shift is what it prevents: use alert or fix_features, or "
                    f"checks.{check}.enabled: false to drop it"
                )
        unknown = [
            f"{section}.{name}: unknown check {name!r}"
            for section in ("checks", "actions")
            if isinstance(names := data.get(section), dict)
            for name in names
            if name not in REGISTRY
        ]
        if unknown:
            raise ValueError(f"{'; '.join(unknown)} (known checks: {known})")
        return data

    @field_validator("cooldown")
    @classmethod
    def _positive_cooldown(cls, cooldown: str | None) -> str | None:
        if cooldown is not None and parse_duration(cooldown).total_seconds() <= 0:
            raise ValueError(f"{cooldown!r} must be positive (leave cooldown out for none)")
        return cooldown

    def check_settings(self, name: str) -> Any:
        """The validated settings of check `name`."""
        return getattr(self.checks, settings_field(name))

    def action_for(self, check: str) -> Action:
        """The action a failing finding of `check` asks for, after the policy's overrides."""
        if check in self.actions:
            return Action(self.actions[check])
        return REGISTRY[check].action

    @property
    def error_branch(self) -> Branch:
        """The branch taken when the gate cannot diagnose."""
        return Branch(self.on_error)

    @property
    def sha256(self) -> str:
        """A hash of the fully merged policy, shown in every decision."""
        canonical = json.dumps(
            self.model_dump(mode="json", by_alias=True), sort_keys=True, separators=(",", ":")
        )
        return hashlib.sha256(canonical.encode()).hexdigest()


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Merge `override` into `base` recursively; the override wins, lists are replaced whole."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


MAX_POLICY_BYTES = 1024 * 1024
"""The largest policy file read (1 MiB): real policies are a few kilobytes."""
MAX_NESTING = 50
"""The deepest nesting of YAML collections in a policy (the format itself needs about 6)."""
MAX_EXTENDS = 20
"""The most policy files in one `extends` chain: the policy and its bases."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """The safe YAML loader, refusing a key given twice in one mapping (plain YAML keeps the last silently)
    and collections nested deeper than MAX_NESTING (which would exhaust the recursion of its composer)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        """Compose a node, counting how deeply collections nest."""
        self._depth += 1
        try:
            if self._depth > MAX_NESTING:
                raise yaml.composer.ComposerError(
                    None, None, f"nested deeper than {MAX_NESTING} levels", self.peek_event().start_mark
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue  # `<<: *base` keys may be overridden by the mapping's own keys
        key = loader.construct_object(key_node)
        if not isinstance(key, str | int | float | bool):
            continue  # an unhashable key: construct_mapping reports it
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def _read_text(path: Path) -> str:
    """The policy file's text; only a regular file of at most MAX_POLICY_BYTES (a FIFO or device would block
    or never end)."""
    try:
        mode = path.stat().st_mode
        if not stat.S_ISREG(mode):
            kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file (a device, FIFO or socket)"
            raise PolicyError([f"cannot read policy file: it is {kind}; give a YAML file"], str(path))
        with path.open("rb") as handle:
            data = handle.read(MAX_POLICY_BYTES + 1)
    except OSError as error:
        raise PolicyError([f"cannot read policy file: {error.strerror or error}"], str(path)) from None
    if len(data) > MAX_POLICY_BYTES:
        raise PolicyError(
            [f"the file is larger than {MAX_POLICY_BYTES // 1024} KiB; a policy is a small YAML file"],
            str(path),
        )
    return data.decode("utf-8")


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = _read_text(path)
    except UnicodeDecodeError as error:
        raise PolicyError([f"not UTF-8 text (byte {error.start})"], str(path)) from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise PolicyError([f"malformed YAML{where}: {problem}"], str(path)) from None
    if data is None:
        raise PolicyError(
            ["the file is empty; a policy needs at least `name` and `tables.features`"], str(path)
        )
    if not isinstance(data, dict):
        raise PolicyError([f"a policy is a mapping of keys, not a {type(data).__name__}"], str(path))
    return data


def _resolve_extends(data: dict[str, Any], base_dir: Path | None, chain: tuple[Path, ...]) -> dict[str, Any]:
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise PolicyError(["extends: give the base policy's path as a string"])
    if base_dir is None:
        base_dir = Path.cwd()
    parent_path = (base_dir / parent).resolve()
    if parent_path in chain:
        cycle = " -> ".join(str(path) for path in (*chain, parent_path))
        raise PolicyError([f"extends: cycle between policies: {cycle}"])
    if len(chain) >= MAX_EXTENDS:
        raise PolicyError(
            [
                f"extends: a chain of more than {MAX_EXTENDS} policy files (at {parent_path}); flatten the chain"
            ]
        )
    if not parent_path.exists():
        raise PolicyError([f"extends: base policy {parent!r} not found (looked for {parent_path})"])
    parent_data = _resolve_extends(_read_yaml(parent_path), parent_path.parent, (*chain, parent_path))
    return deep_merge(parent_data, data)


def _format_validation_error(error: ValidationError) -> list[str]:
    problems = []
    for item in error.errors():
        path = ".".join(str(part) for part in item["loc"] if not str(part).startswith("function-after"))
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown key (check the spelling; see `retrain-gate schema`)"
        elif item["type"] == "missing":
            message = "required key is missing"
        problems.append(f"{path}: {message}" if path else message)
    return problems


def parse_policy(data: dict[str, Any], *, base_dir: Path | None = None, source: str | None = None) -> Policy:
    """Validate a policy given as a mapping (as the operator receives it), following `extends`."""
    if not isinstance(data, dict):
        raise PolicyError([f"a policy is a mapping of keys, not a {type(data).__name__}"], source)
    chain = (Path(source).resolve(),) if source and Path(source).exists() else ()
    merged = _resolve_extends(dict(data), base_dir, chain)
    try:
        return Policy.model_validate(merged, context={"base_dir": base_dir})
    except ValidationError as error:
        raise PolicyError(_format_validation_error(error), source) from None


def load_base_policy(path: str | Path) -> list[str]:
    """Validate a policy meant to be extended, which may lack required keys; returns the keys it lacks.

    Every other problem (an unknown key or check, a bad threshold) raises a PolicyError, as `load_policy` does.
    """
    path = Path(path)
    data = _resolve_extends(_read_yaml(path), path.resolve().parent, (path.resolve(),))
    try:
        Policy.model_validate(data, context={"base_dir": path.resolve().parent})
    except ValidationError as error:
        problems = list(zip(error.errors(), _format_validation_error(error), strict=True))
        others = [problem for item, problem in problems if item["type"] != "missing"]
        if others:
            raise PolicyError(others, str(path)) from None
        return [problem.removesuffix(": required key is missing") for _, problem in problems]
    return []


def load_policy(path: str | Path) -> Policy:
    """Read, merge (`extends`) and validate a policy YAML file."""
    path = Path(path)
    return parse_policy(_read_yaml(path), base_dir=path.resolve().parent, source=str(path))


def policy_json_schema() -> dict[str, Any]:
    """The JSON Schema of the policy format, for editors and CI validation."""
    schema = Policy.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "airflow-retrain-gate policy (v1)"
    schema["properties"]["extends"] = {
        "type": "string",
        "description": "Path of a base policy, relative to this file; deep-merged, this file winning.",
    }
    return schema
