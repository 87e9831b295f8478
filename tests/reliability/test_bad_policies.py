"""Bad policies and bad command lines are refused with one line naming the field; nothing runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_retrain_gate.core import PolicyError
from airflow_retrain_gate.core.escaping import ERROR_LINE_LIMIT

from .bad_policies import CORPUS, VALID, BadPolicy, extends_chain
from .refusals import assert_one_line_error, retrain_gate


@pytest.fixture
def policy_file(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    """The case's text as `policy.yaml`, written byte for byte (Latin-1, so non-UTF-8 bytes stay)."""
    path = tmp_path / "policy.yaml"
    path.write_bytes(request.param.text.encode("latin-1"))
    if request.param.prepare:
        request.param.prepare(path)
    return path


@pytest.mark.parametrize(
    ("case", "policy_file"),
    [(case, case) for case in CORPUS],
    ids=[case.name for case in CORPUS],
    indirect=["policy_file"],
)
def test_the_cli_refuses_a_bad_policy_in_one_line(
    case: BadPolicy, policy_file: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert_one_line_error(*retrain_gate(capsys, "validate-policy", str(policy_file)), case.error)
    warehouse = f"duckdb:///{tmp_path / 'empty.duckdb'}"
    assert_one_line_error(
        *retrain_gate(capsys, "diagnose", "--policy", str(policy_file), "--warehouse", warehouse), case.error
    )
    assert not Path("/tmp/pwned").exists()


@pytest.mark.parametrize(
    ("case", "policy_file"),
    [(case, case) for case in CORPUS],
    ids=[case.name for case in CORPUS],
    indirect=["policy_file"],
)
def test_the_operator_refuses_a_bad_policy_when_the_dag_is_parsed(case: BadPolicy, policy_file: Path) -> None:
    operators = pytest.importorskip("airflow_retrain_gate.operators.gate")
    from airflow.sdk import DAG

    with DAG("gated", schedule=None) as dag, pytest.raises(PolicyError) as refused:
        dag.fileloc = str(policy_file.parent / "gated_dag.py")
        operators.RetrainGateOperator(task_id="gate", policy=policy_file.name)
    message = str(refused.value)
    assert case.error in message
    assert len(message) <= ERROR_LINE_LIMIT and message.isprintable(), message[:2000]


def test_the_valid_base_is_accepted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "policy.yaml").write_text(VALID)
    code, out, _ = retrain_gate(capsys, "validate-policy", str(tmp_path / "policy.yaml"))
    assert code == 0 and "valid policy 'fraud-scorer'" in out


@pytest.mark.parametrize(
    "text",
    [
        VALID + "# padding\n" * 90_000,
        VALID + "windows:\n  reference: {start: 2024-03-01, end: -35d}\n",
    ],
    ids=["a policy just under 1 MiB", "a window from an ISO date"],
)
def test_policies_inside_the_limits_are_accepted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str
) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    code, out, err = retrain_gate(capsys, "validate-policy", str(path))
    assert (code, err) == (0, "") and "valid policy" in out


def test_yaml_nested_50_levels_deep_is_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(VALID + "description: " + "[" * 49 + "]" * 49 + "\n")  # 50 levels with the top mapping
    assert_one_line_error(
        *retrain_gate(capsys, "validate-policy", str(path)), "description: Input should be a valid string"
    )


def test_an_extends_chain_of_20_files_is_accepted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("extends: base0.yaml\nname: top\n")
    extends_chain(19)(path)
    code, out, err = retrain_gate(capsys, "validate-policy", str(path))
    assert (code, err) == (0, "") and "valid policy 'top'" in out


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--as-of", "yesterday"], "--as-of: 'yesterday' is not an ISO-8601 date or timestamp"),
        (["--warehouse", "nosuchdb://admin:hunter2@db.internal/prod"], "warehouse URL"),
        (["--warehouse", "not a url, password=hunter2"], "warehouse URL"),
        (["--policy", "/nonexistent/policy.yaml"], "cannot read policy file: No such file or directory"),
    ],
    ids=["as_of not a date", "unknown dialect", "not a URL", "missing policy file"],
)
def test_bad_command_lines_get_one_line_without_secrets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], error: str
) -> None:
    (tmp_path / "policy.yaml").write_text(VALID)
    options = {"--policy": str(tmp_path / "policy.yaml"), "--warehouse": f"duckdb:///{tmp_path / 'w.duckdb'}"}
    options.update(dict(zip(args[::2], args[1::2], strict=True)))
    code, out, err = retrain_gate(capsys, "diagnose", *[part for pair in options.items() for part in pair])
    assert_one_line_error(code, out, err, error)
    assert "hunter2" not in err
