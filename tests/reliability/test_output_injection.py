"""Text from the warehouse and the policy cannot inject HTML, forge markdown structure or reach the terminal as
escape codes: a column name, a category value and a policy name carrying such payloads are shown as text."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import yaml
from markdown_it import MarkdownIt
from starlette.templating import Jinja2Templates

import airflow_retrain_gate.plugins
from airflow_retrain_gate.cli import main, render_table
from airflow_retrain_gate.core import Branch, Decision, Warehouse, parse_policy, run_gate
from airflow_retrain_gate.demo.catalog import DEMO_AS_OF
from airflow_retrain_gate.demo.loading import load_tables

from .gates import train_policy

PAYLOAD = (
    "<img src=x onerror=alert(1)><script>alert(2)</script>\n## Forged\r\n| forged | cell |"
    "[click](javascript:alert(3))\x1b[31mred\x1b]8;;http://evil\x07\u202eevil"
)
"""HTML, a forged heading and table cells, a link, ANSI colour and hyperlink escapes, a bidi override."""
ANSI_AND_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u202e]")


@pytest.fixture(scope="module")
def injected(
    tmp_path_factory: pytest.TempPathFactory, train_frames: dict[str, pd.DataFrame]
) -> tuple[str, Path]:
    """A warehouse whose numeric column is named PAYLOAD and half of whose current categories are PAYLOAD, and a
    policy named PAYLOAD watching it."""
    folder = tmp_path_factory.mktemp("injection")
    frames = {name: frame.copy() for name, frame in train_frames.items()}
    features = frames["features"]
    current = features["event_ts"] >= pd.Timestamp("2024-05-25")
    features.loc[current & (features.index % 2 == 0), "query_intent"] = PAYLOAD
    frames["features"] = features.rename(columns={"basket_value": PAYLOAD})
    url = f"duckdb:///{folder / 'warehouse.duckdb'}"
    load_tables(url, frames)
    policy = train_policy() | {"name": PAYLOAD}
    policy["tables"]["features"]["numeric"][1] = PAYLOAD
    (folder / "policy.yaml").write_text(yaml.safe_dump(policy))
    return url, folder / "policy.yaml"


@pytest.fixture(scope="module")
def decision(injected: tuple[str, Path]) -> Decision:
    """The gate's decision on the injected warehouse: the new category fails category_coverage."""
    url, policy_path = injected
    decision = run_gate(parse_policy(yaml.safe_load(policy_path.read_text())), Warehouse(url), DEMO_AS_OF)
    assert decision.branch is Branch.FIX_FEATURES and decision.deciding_checks[0] == "category_coverage"
    assert decision.policy_name == PAYLOAD  # the decision keeps the data; only its renderings escape it
    assert "<img src=x onerror=alert(1)>" in decision.reasons[0]
    return decision


def unescaped_pipes(line: str) -> int:
    """The `|` of a markdown table row that delimit cells (not escaped with a backslash)."""
    return len(re.findall(r"(?<!\\)\|", line))


def assert_safe_markdown(markdown: str) -> None:
    """Rendered as CommonMark with raw HTML allowed, the markdown holds only the gate's own structure."""
    assert not ANSI_AND_CONTROLS.search(markdown)
    html = MarkdownIt("commonmark", {"html": True}).enable("table").render(markdown)
    for tag in ("<img", "<script", "<a ", "<h1", "<h4"):
        assert tag not in html, tag
    assert (html.count("<h2>"), html.count("<h3>")) == (1, 2)  # "Retrain gate", then "Why" and "Findings"
    assert "&lt;img src=x onerror=alert(1)&gt;" in html  # shown, not run
    rows = [line for line in markdown.splitlines() if line.startswith("|")]
    assert len(rows) > 3 and all(unescaped_pipes(row) == 8 for row in rows)  # 7 cells, none forged


def test_markdown_shows_payloads_as_text(decision: Decision) -> None:
    markdown = decision.to_markdown()
    assert_safe_markdown(markdown)
    assert markdown.splitlines()[0].startswith(
        "## Retrain gate: **fix_features** (&lt;img src=x onerror=alert(1)>"
    )
    assert sum(line.startswith("- ") for line in markdown.splitlines()) == len(decision.reasons)


def test_the_table_format_keeps_one_line_per_item_and_no_escape_codes(decision: Decision) -> None:
    table = render_table(decision)
    assert not ANSI_AND_CONTROLS.search(table)
    unpassed = [finding for finding in decision.findings if finding.status.value != "pass"]
    # The branch, scanned, 'reasons:' and 'findings:' lines, then one line per reason and unpassed finding.
    assert len(table.splitlines()) == 4 + len(decision.reasons) + len(unpassed)
    assert "\\x1b[31mred" in table  # the escape is shown, not interpreted


@pytest.mark.parametrize("output", ["markdown", "table", "json"])
def test_the_cli_prints_payloads_safely(
    injected: tuple[str, Path], capsys: pytest.CaptureFixture[str], output: str
) -> None:
    url, policy_path = injected
    code = main(
        [
            "diagnose",
            "--policy",
            str(policy_path),
            "--warehouse",
            url,
            "--as-of",
            "2024-06-01",
            "--format",
            output,
        ]
    )
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    assert not ANSI_AND_CONTROLS.search(out)
    if output == "markdown":
        assert_safe_markdown(out)
    elif output == "json":
        assert json.loads(out)["policy_name"] == PAYLOAD  # JSON escapes control characters and keeps the data


def test_the_ui_templates_escape_finding_text(decision: Decision) -> None:
    folder = Path(airflow_retrain_gate.plugins.__file__).parent / "templates"
    templates = Jinja2Templates(directory=folder)
    templates.env.filters["number"] = lambda value: "" if value is None else f"{value:.4g}"
    views = [SimpleNamespace(finding=finding, deciding=False, charts=[]) for finding in decision.findings]
    html = templates.get_template("_findings.html").render(table_id="findings", views=views)
    assert "<img" not in html and "<script" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
