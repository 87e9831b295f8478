"""The decision: which branch, why, and every finding behind it; JSON and markdown renderings."""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from airflow_retrain_gate.core.escaping import markdown_text
from airflow_retrain_gate.core.findings import (
    ATTRIBUTED_CHANGE,
    EXPLAINS_CHANGE,
    NOT_CONFIGURED,
    PRECEDENCE,
    Action,
    Branch,
    Finding,
    Status,
    json_safe,
)
from airflow_retrain_gate.core.scans import TableScans, describe_scans
from airflow_retrain_gate.core.timeframes import TimeWindow, format_duration, to_utc
from airflow_retrain_gate.core.wording import plural

STATUS_MARK = {"pass": "pass", "warn": "WARN", "fail": "FAIL", "error": "ERROR", "insufficient_data": "n/a"}


@dataclass(frozen=True)
class Decision:
    """A gate's verdict: the branch, the reasons an on-call engineer reads, and every finding."""

    branch: Branch
    reasons: tuple[str, ...]
    findings: tuple[Finding, ...]
    policy_name: str
    policy_sha256: str
    as_of: datetime
    windows: dict[str, TimeWindow]
    started_at: datetime
    duration_s: float
    deciding_checks: tuple[str, ...] = ()
    """Checks whose findings chose the branch, most specific first."""
    queries: int = 0
    rows_fetched: int = 0
    notes: dict[str, Any] = field(default_factory=dict)
    scans: tuple[TableScans, ...] = ()
    """How often the run read each table's windows (the cost on a warehouse billed per scan); empty in records
    written before it was counted."""

    @property
    def deciding_findings(self) -> list[Finding]:
        """The findings that chose the branch, most specific first."""
        order = {name: index for index, name in enumerate(self.deciding_checks)}
        return sorted(
            (f for f in self.findings if f.check in order and _asks_for(f, self.branch)),
            key=lambda f: order[f.check],
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON form: top-level branch, reasons, findings, then provenance."""
        return {
            "branch": self.branch.value,
            "reasons": list(self.reasons),
            "deciding_checks": list(self.deciding_checks),
            "findings": [finding.to_dict() for finding in self.findings],
            **json_safe(
                {
                    "policy_name": self.policy_name,
                    "policy_sha256": self.policy_sha256,
                    "as_of": self.as_of.isoformat(),
                    "windows": {name: window.to_dict() for name, window in self.windows.items()},
                    "started_at": self.started_at.isoformat(),
                    "duration_s": round(self.duration_s, 3),
                    "queries": self.queries,
                    "rows_fetched": self.rows_fetched,
                    "scans": [table.to_dict() for table in self.scans],
                    "notes": self.notes,
                }
            ),
        }

    def to_json(self, indent: int | None = 2) -> str:
        """The decision as a JSON document."""
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Decision:
        """Rebuild a decision from `to_dict` output (XCom, the decision log)."""
        return cls(
            branch=Branch(data["branch"]),
            reasons=tuple(data.get("reasons", ())),
            findings=tuple(Finding.from_dict(item) for item in data.get("findings", ())),
            policy_name=data.get("policy_name", ""),
            policy_sha256=data.get("policy_sha256", ""),
            as_of=to_utc(data["as_of"]),
            windows={
                name: TimeWindow(name, to_utc(window["start"]), to_utc(window["end"]))
                for name, window in data.get("windows", {}).items()
            },
            started_at=to_utc(data.get("started_at") or data["as_of"]),
            duration_s=float(data.get("duration_s") or 0.0),
            deciding_checks=tuple(data.get("deciding_checks", ())),
            queries=int(data.get("queries") or 0),
            rows_fetched=int(data.get("rows_fetched") or 0),
            notes=dict(data.get("notes") or {}),
            scans=tuple(TableScans.from_dict(item) for item in data.get("scans") or ()),
        )

    def headline(self) -> str:
        """One line: branch and the first reason."""
        first = self.reasons[0] if self.reasons else ""
        return f"{self.branch.value}: {first}"

    def recomputed_days(self) -> str:
        """The days whose cached day parts were stale (rows arrived or changed since they were cached) and were
        profiled again, per table, as one line (empty when none)."""
        parts = self.notes.get("day_parts")
        days = parts.get("recomputed_days") if isinstance(parts, dict) else None
        if not days:
            return ""
        tables = "; ".join(f"{table} {', '.join(dates)}" for table, dates in days.items())
        return f"{tables} (rows changed since these days were profiled, so they were profiled again)"

    def to_markdown(self) -> str:
        """The decision as markdown for logs, Rendered Templates and review bodies.

        Every text from the policy or the warehouse is escaped: it cannot add HTML, links, headings or cells.
        """
        lines = [
            f"## Retrain gate: **{self.branch.value}** ({markdown_text(self.policy_name)})",
            "",
            f"as of {self.as_of.isoformat()} · "
            + " · ".join(
                f"{name} {window.start:%Y-%m-%d %H:%M} to {window.end:%Y-%m-%d %H:%M}"
                for name, window in self.windows.items()
            )
            + f" · {self.queries} queries, {self.rows_fetched} aggregate rows, {format_duration_s(self.duration_s)}",
            "",
        ]
        if self.scans:
            lines += [f"Scanned: {markdown_text(describe_scans(self.scans))}", ""]
        if recomputed := self.recomputed_days():
            lines += [f"Recomputed: {markdown_text(recomputed)}", ""]
        lines.append("### Why")
        lines += [f"- {markdown_text(reason)}" for reason in self.reasons] or ["- (no reasons recorded)"]
        lines += [
            "",
            "### Findings",
            "",
            "| check | subject | status | statistic | value | threshold | message |",
            "|---|---|---|---|---|---|---|",
        ]
        for finding in sorted(self.findings, key=_finding_order):
            lines.append(
                "| {check} | {subject} | {status} | {statistic} | {value} | {threshold} | {message} |".format(
                    check=markdown_text(finding.check),
                    subject=markdown_text(finding.subject),
                    status=STATUS_MARK[finding.status.value],
                    statistic=markdown_text(finding.statistic or ""),
                    value=_number(finding.value),
                    threshold=_number(finding.threshold),
                    message=markdown_text(finding.message),
                )
            )
        lines += ["", f"policy sha256 `{self.policy_sha256[:12]}`"]
        return "\n".join(lines)


def _asks_for(finding: Finding, branch: Branch) -> bool:
    if finding.status is Status.ERROR:
        return True
    return finding.decides and finding.action.value == branch.value


def _finding_order(finding: Finding) -> tuple[int, str, str]:
    rank = {"error": 0, "fail": 1, "warn": 2, "insufficient_data": 3, "pass": 4}[finding.status.value]
    return rank, finding.check, finding.subject


def _number(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.4g}"


def format_duration_s(seconds: float) -> str:
    """Seconds for people: 0.84 s, 12 s, 3m 5s."""
    if seconds < 10:
        return f"{seconds:.2f} s"
    return format_duration(timedelta(seconds=seconds))


@dataclass(frozen=True)
class Verdict:
    """What `decide` chose from the findings, before the run's provenance makes it a `Decision`."""

    branch: Branch
    reasons: tuple[str, ...]
    """Why, in the order an on-call engineer reads them."""
    deciding_checks: tuple[str, ...]
    """Checks whose findings chose the branch, most specific first."""
    findings: tuple[Finding, ...]
    """Every finding, with the policy's per-check action overrides applied."""


def decide(
    findings: list[Finding],
    *,
    error_branch: Branch,
    action_overrides: dict[str, Action],
    check_rank: dict[str, int],
    nearest_train_at: datetime | None,
    cooldown_s: float | None,
    as_of: datetime,
    training_guards: Collection[str] = (),
    train_checks: Collection[str] = (),
) -> Verdict:
    """Choose a branch by precedence: the verdict names it, the reasons, the deciding checks and the findings
    after overrides.

    A `train` within `cooldown_s` of `nearest_train_at` (the model's logged train nearest to `as_of`, before
    or after it) becomes alert. `train` also needs every check in `training_guards` (the input checks) to have judged: when one of them
    reports insufficient_data or an error, the gate takes `error_branch` instead and says why first. A skip
    whose `train_checks` (the checks that could ask for train) could not judge says so first: "nothing calls
    for action" would hide that whether to retrain was never judged.
    """
    adjusted = [_override(finding, action_overrides) for finding in findings]
    errors = [finding for finding in adjusted if finding.status is Status.ERROR]
    wanted: dict[Branch, list[Finding]] = {branch: [] for branch in PRECEDENCE}
    for finding in adjusted:
        if finding.decides:
            wanted[Branch(finding.action.value)].append(finding)
    if errors and error_branch is not Branch.SKIP:
        wanted[error_branch] = errors + wanted[error_branch]
    branch = next((candidate for candidate in PRECEDENCE if wanted[candidate]), Branch.SKIP)
    rank = lambda finding: (check_rank.get(finding.check, 999), -(finding.value or 0.0))  # noqa: E731
    errors_first = lambda f: (0 if f.status is Status.ERROR else 1, *rank(f))  # noqa: E731
    withheld_train = bool(errors) and branch is Branch.TRAIN
    unjudged = (
        sorted(_unjudged_guards(adjusted, training_guards), key=errors_first)
        if branch is Branch.TRAIN
        else []
    )
    if withheld_train or unjudged:
        # Errors are not in `wanted` only with on_error: skip. Either way a gate that could not judge its
        # inputs never trains.
        branch = error_branch
    deciding = sorted(wanted[branch], key=errors_first)
    reasons = _error_reasons([f for f in deciding if f.status is Status.ERROR])
    reasons += [finding.message for finding in deciding if finding.status is not Status.ERROR]
    decided = branch  # before the cooldown: what the findings ask for, whose reasons are listed above
    if branch is Branch.TRAIN and nearest_train_at is not None and cooldown_s is not None:
        elapsed = (as_of - nearest_train_at).total_seconds()
        if abs(elapsed) < cooldown_s:
            when = (
                f"the last train decision was {format_duration(timedelta(seconds=elapsed))} ago"
                if elapsed >= 0
                else f"a train decision stands {format_duration(timedelta(seconds=-elapsed))} later "
                f"(as of {nearest_train_at.isoformat()})"
            )
            reasons.insert(
                0,
                f"Cooldown: {when} (cooldown {format_duration(timedelta(seconds=cooldown_s))}), so this run "
                "alerts instead of retraining again.",
            )
            branch = Branch.ALERT
    if branch is Branch.SKIP:
        unjudged_train = _unjudged_train_reasons(adjusted, train_checks)
        reasons = unjudged_train + _skip_reasons(adjusted, bool(unjudged_train))
    lower = [
        finding
        for candidate in PRECEDENCE
        if PRECEDENCE.index(candidate) > PRECEDENCE.index(decided) and candidate is not Branch.SKIP
        for finding in wanted[candidate]
    ]
    attributed = next(
        (f.evidence[ATTRIBUTED_CHANGE] for f in adjusted if f.decides and ATTRIBUTED_CHANGE in f.evidence),
        None,
    )
    reasons += [
        f"Also seen (train, not taken: the shift is attributed to {attributed}): {finding.message}"
        if attributed and finding.action is Action.TRAIN
        else f"Also seen ({finding.action.value}, lower precedence): {finding.message}"
        for finding in lower
    ]
    undecided = [finding for finding in adjusted if finding.status is Status.INSUFFICIENT_DATA]
    reasons += [
        f"Not decided ({finding.check}, insufficient data): {finding.message}"
        for finding in undecided
        if NOT_CONFIGURED not in finding.evidence
    ]
    if errors and error_branch is Branch.SKIP:
        # First: "all judged findings passed" must not hide what could not be judged.
        reasons[:0] = [
            f"Could not diagnose ({finding.check}), on_error is skip: {finding.message}"
            for finding in sorted(errors, key=errors_first)
        ]
    if unjudged:
        reasons.insert(0, f"Not trained: the input checks could not judge the inputs: {unjudged[0].message}")
    elif withheld_train:
        reasons.insert(0, "Not trained: some checks could not diagnose, and on_error is skip.")
    reasons += _not_configured_reason(undecided)
    deciding_checks = tuple(dict.fromkeys(finding.check for finding in [*unjudged, *deciding]))
    return Verdict(branch, tuple(reasons), deciding_checks, tuple(adjusted))


def _not_configured_reason(undecided: list[Finding]) -> list[str]:
    """One closing line for every optional check whose tables the policy does not map, grouped by what to map
    ("Not configured (5 checks): map tables.events to use known_events, ...")."""
    checks_by_mapping: dict[str, list[str]] = {}
    for finding in undecided:
        if NOT_CONFIGURED in finding.evidence:
            checks_by_mapping.setdefault(str(finding.evidence[NOT_CONFIGURED]), []).append(finding.check)
    if not checks_by_mapping:
        return []
    count = len({check for checks in checks_by_mapping.values() for check in checks})
    wanted = "; ".join(
        f"map {mapping} to use {', '.join(dict.fromkeys(checks))}"
        for mapping, checks in checks_by_mapping.items()
    )
    return [f"Not configured ({plural(count, 'check')}): {wanted}."]


def _error_reasons(errors: list[Finding]) -> list[str]:
    """One "could not diagnose" reason per distinct error, naming every check it stopped (an unreachable
    warehouse stops them all with one message: one line with the count, not twenty)."""
    checks_by_message: dict[str, list[str]] = {}
    for finding in errors:
        checks_by_message.setdefault(finding.message, []).append(finding.check)
    reasons = []
    for message, checks in checks_by_message.items():
        named = ", ".join(dict.fromkeys(checks))
        if len(set(checks)) > 3:
            named = f"{len(set(checks))} checks: " + ", ".join(list(dict.fromkeys(checks))[:3]) + ", ..."
        reasons.append(f"could not diagnose ({named}): {message}")
    return reasons


def _unjudged_train_reasons(findings: list[Finding], train_checks: Collection[str]) -> list[str]:
    """One reason when checks that could ask for train judged nothing (insufficient data on every subject:
    labels not mature, or no outcomes table mapped), quoting why the first of them could not."""
    judged = {
        finding.check for finding in findings if finding.status in (Status.PASS, Status.WARN, Status.FAIL)
    }
    unjudged = [
        finding
        for finding in findings
        if finding.check in train_checks
        and finding.check not in judged
        and finding.status is Status.INSUFFICIENT_DATA
    ]
    if not unjudged:
        return []
    first = unjudged[0]
    checks = list(dict.fromkeys(finding.check for finding in unjudged))
    if NOT_CONFIGURED in first.evidence:
        why = f"map {first.evidence[NOT_CONFIGURED]} to run {', '.join(checks)}."
    else:
        others = [check for check in checks if check != first.check]
        why = first.message + (f" Not judged either: {', '.join(others)}." if others else "")
    if judged & set(train_checks):
        return [f"Could not judge {', '.join(checks)}, which could ask for train: {why}"]
    return [f"Could not judge whether to retrain: {why}"]


def _unjudged_guards(findings: list[Finding], guards: Collection[str]) -> list[Finding]:
    """Findings of input checks that could not judge (insufficient data or an error)."""
    return [
        finding
        for finding in findings
        if finding.check in guards and finding.status in (Status.INSUFFICIENT_DATA, Status.ERROR)
    ]


def _override(finding: Finding, overrides: dict[str, Action]) -> Finding:
    if finding.status is not Status.FAIL or finding.check not in overrides:
        return finding
    return replace(finding, action=overrides[finding.check])


def _skip_reasons(findings: list[Finding], unjudged_train: bool) -> list[str]:
    """Why nothing is done: first a change people will see and what explains it (an AUC that fell as the
    population shift predicts), then that nothing (else) calls for action, then what was noted."""
    judged = [finding for finding in findings if finding.status in (Status.PASS, Status.WARN, Status.FAIL)]
    warnings = [finding for finding in findings if finding.status in (Status.WARN, Status.FAIL)]
    explained = [
        f"{finding.message.removesuffix('.')}: no retrain."
        for finding in findings
        if finding.status is Status.PASS and finding.evidence.get(EXPLAINS_CHANGE)
    ]
    nothing = "Nothing else calls for action" if unjudged_train or explained else "Nothing calls for action"
    if not warnings:
        return [*explained, f"{nothing}: all {len(judged)} judged findings passed."]
    return [*explained, f"{nothing}."] + [f"Noted without action: {finding.message}" for finding in warnings]
