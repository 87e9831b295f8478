"""Policies load from YAML, merge their base, and every mistake names the field it is in."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from airflow_retrain_gate.core import PolicyError, load_policy, parse_policy
from airflow_retrain_gate.core.gate import resolve_windows
from airflow_retrain_gate.core.policy import TableMapping, policy_json_schema

MINIMAL = {
    "name": "fraud-scorer",
    "tables": {"features": {"table": "features", "timestamp": "event_ts", "numeric": ["amount"]}},
}


def write(folder: Path, name: str, data: object) -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)
    return path


def test_a_minimal_policy_gets_defaults_for_everything_else() -> None:
    policy = parse_policy(MINIMAL)
    assert policy.on_error == "alert"
    assert policy.windows.current.start == "-7d"
    assert policy.check_settings("drift").thresholds == (0.1, 0.25)
    assert all(policy.check_settings(name).enabled for name in ("freshness", "schema", "performance"))


def test_the_design_example_policy_is_valid() -> None:
    design = (Path(__file__).parents[2] / ".." / "shared" / "DESIGN.md").resolve()
    if not design.exists():
        pytest.skip("../shared/DESIGN.md is not beside the checkout")
    text = design.read_text()
    block = text.split("```yaml", 1)[1].split("```", 1)[0]
    data = yaml.safe_load(block)
    data.pop("extends")
    policy = parse_policy(data)
    assert policy.tables.predictions is not None and policy.tables.predictions.filters == {
        "model_name": "fraud-scorer"
    }
    assert policy.action_for("segment_mix").value == "alert"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"on_error": "train"}, "on_error: 'train' is not allowed"),
        ({"checks": {"drfit": {}}}, "checks.drfit: unknown check 'drfit'"),
        ({"actions": {"nope": "alert"}}, "actions.nope: unknown check"),
        ({"checks": {"drift": {"warn": 0.3, "fail": 0.2}}}, "checks.drift"),
        ({"checks": {"drift": {"statistic": "chi"}}}, "checks.drift.statistic"),
        ({"checks": {"freshness": {"max_lag": "a day"}}}, "checks.freshness.max_lag"),
        ({"windows": {"current": {"start": "0d", "end": "-7d"}}}, "windows.current"),
        ({"windows": {"current": {"start": "yesterday", "end": "0d"}}}, "windows.current.start"),
        ({"cooldown": "7 days"}, "cooldown"),
        ({"colldown": "7d"}, "colldown: unknown key"),
    ],
)
def test_mistakes_name_the_field_path(change: dict[str, object], expected: str) -> None:
    with pytest.raises(PolicyError) as error:
        parse_policy({**MINIMAL, **change})
    assert expected in str(error.value)


def test_feature_mistakes_name_the_table_field() -> None:
    features = {"table": "f", "timestamp": "ts", "numeric": ["a", "b"], "categorical": ["b"]}
    with pytest.raises(PolicyError, match=r"tables\.features.*'b' is listed twice"):
        parse_policy({"name": "x", "tables": {"features": features}})
    with pytest.raises(PolicyError, match=r"tables\.features\.timestamp: required key is missing"):
        parse_policy({"name": "x", "tables": {"features": {"table": "f"}}})


def test_malformed_yaml_reports_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.yaml", "name: x\ntables:\n  features: [unclosed\n")
    with pytest.raises(PolicyError, match=r"bad.yaml: malformed YAML at line \d+, column \d+"):
        load_policy(path)


def test_empty_and_non_mapping_files_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="the file is empty"):
        load_policy(write(tmp_path, "empty.yaml", ""))
    with pytest.raises(PolicyError, match="not a list"):
        load_policy(write(tmp_path, "list.yaml", "- a\n- b\n"))


def test_extends_deep_merges_the_platform_base_this_file_winning(tmp_path: Path) -> None:
    (tmp_path / "platform").mkdir()
    write(
        tmp_path / "platform",
        "default.yaml",
        {"cooldown": "14d", "checks": {"drift": {"warn": 0.2, "fail": 0.4}}, "on_error": "fix_features"},
    )
    path = write(
        tmp_path,
        "model.yaml",
        {**MINIMAL, "extends": "platform/default.yaml", "checks": {"drift": {"fail": 0.5}}},
    )
    policy = load_policy(path)
    assert policy.cooldown == "14d"
    assert policy.on_error == "fix_features"
    assert policy.check_settings("drift").thresholds == (0.2, 0.5)


def test_extends_cycles_are_rejected(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", {"extends": "b.yaml", **MINIMAL})
    write(tmp_path, "b.yaml", {"extends": "a.yaml"})
    with pytest.raises(PolicyError, match="extends: cycle between policies"):
        load_policy(tmp_path / "a.yaml")


def test_the_hash_changes_with_content_not_with_formatting() -> None:
    same = parse_policy(json.loads(json.dumps(MINIMAL)))
    assert parse_policy(MINIMAL).sha256 == same.sha256
    assert parse_policy({**MINIMAL, "cooldown": "3d"}).sha256 != same.sha256


def test_json_schema_describes_every_check_and_the_design_keys() -> None:
    schema = policy_json_schema()
    checks = schema["$defs"]["ChecksConfig"]["properties"]
    assert {"schema", "drift", "freshness", "segment_mix", "expectations"} <= set(checks)
    assert {"name", "extends", "windows", "tables", "checks", "actions", "cooldown", "on_error"} <= set(
        schema["properties"]
    )
    assert schema["properties"]["on_error"]["enum"] == ["alert", "fix_features", "skip"]


def test_a_check_that_finds_broken_inputs_cannot_be_mapped_to_train() -> None:
    with pytest.raises(
        PolicyError, match=r"actions\.freshness: freshness finds broken inputs; it cannot ask for train"
    ):
        parse_policy({**MINIMAL, "actions": {"freshness": "train"}})
    assert (
        parse_policy({**MINIMAL, "actions": {"drift": "train", "freshness": "alert"}})
        .action_for("drift")
        .value
        == "train"
    )


def test_a_filtered_table_is_named_with_its_filters_the_way_sql_writes_them() -> None:
    shared = TableMapping(
        table="ml.customer_features",
        filters={"customer_type": "consumer", "region": ["eu", "us"], "active": True},
    )
    assert (
        shared.subject
        == "ml.customer_features[customer_type = 'consumer', region IN ('eu', 'us'), active = true]"
    )
    assert TableMapping(table="ml.customer_features").subject == "ml.customer_features"


def test_a_label_delay_moves_the_outcome_windows_back_and_may_not_be_negative() -> None:
    policy = parse_policy(
        {
            "name": "churn",
            "windows": {"label_delay": "28d"},
            "tables": {"features": {"table": "f", "timestamp": "ts"}},
        }
    )
    reference, current = resolve_windows(policy, datetime(2024, 6, 1, tzinfo=UTC))
    judged_reference, judged_current = policy.windows.outcome_windows(reference, current)
    assert (judged_current.start, judged_current.end) == (
        current.start - timedelta(days=28),
        current.start - timedelta(days=21),
    )
    assert judged_reference.end - judged_reference.start == reference.end - reference.start
    with pytest.raises(PolicyError, match="windows.label_delay: '-28d' must not be negative"):
        parse_policy(
            {
                "name": "churn",
                "windows": {"label_delay": "-28d"},
                "tables": {"features": {"table": "f", "timestamp": "ts"}},
            }
        )
