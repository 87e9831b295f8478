"""The `retrain-gate` command: diagnose, validate-policy, schema, checks, demo, backtest."""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NoReturn

from airflow_retrain_gate import __version__
from airflow_retrain_gate.core import (
    Branch,
    Decision,
    DecisionLog,
    Policy,
    PolicyError,
    RunKey,
    StateStore,
    Status,
    Warehouse,
    WarehouseError,
    load_policy,
    run_gate,
)
from airflow_retrain_gate.core.backtest import ReplayedDay, dates_every, replay
from airflow_retrain_gate.core.dry_run import dry_run
from airflow_retrain_gate.core.escaping import one_line, printable
from airflow_retrain_gate.core.policy import load_base_policy, parse_policy, policy_json_schema
from airflow_retrain_gate.core.retry import RetrySettings
from airflow_retrain_gate.core.scans import describe_scans
from airflow_retrain_gate.core.secrets import RedactingFilter
from airflow_retrain_gate.core.termination import Terminated, run_until_terminated
from airflow_retrain_gate.core.timeframes import parse_duration, to_utc

EXIT_BAD_MAPPING = 1
"""`validate-policy --warehouse`: a mapped table, column, type or filter is wrong in the warehouse."""
EXIT_USAGE = 2
EXIT_UNDIAGNOSED = 3
"""`diagnose --exit-code`: the gate could not diagnose; its branch is the policy's on_error."""
EXIT_UNRECORDED = 4
"""`diagnose --record` printed its decision but could not write it to the decision log."""
EXIT_BROKEN_PIPE = 141
"""The reader of standard output went away (`| head`): 128 + SIGPIPE, as a shell reports it."""
BRANCH_EXIT_CODES = {Branch.SKIP: 0, Branch.TRAIN: 10, Branch.ALERT: 20, Branch.FIX_FEATURES: 30}
"""`diagnose --exit-code`: one exit code per branch, for CI jobs that gate on the decision."""
MAX_TIMEOUT_S = 24 * 3600.0
"""The longest statement timeout the CLI accepts: a gate waiting a day for one query has hung."""
MAX_RETRIES = 10
"""The most retries of a read the CLI accepts; with backoff capped at 8 s, ten retries wait about a minute."""


class UsageError(Exception):
    """A problem with the command line or its inputs; printed as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    """argparse whose errors are one line (exit code 2), not the usage text."""

    def error(self, message: str) -> NoReturn:
        """Raise the problem as a UsageError, which `main` prints as one line."""
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def bounded_number(
    kind: Callable[[str], float], low: float, high: float, unit: str = ""
) -> Callable[[str], float]:
    """An argparse type: a finite number of `kind` in [low, high], refused with a message naming the range."""

    def convert(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            noun = "a whole number" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"{text!r} is not {noun}") from None
        if not math.isfinite(value) or not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text!r} is out of range; give {low:g} to {high:g}{unit}")
        return value

    convert.__name__ = kind.__name__  # argparse names the type in "invalid <name> value" messages
    return convert


def render_table(decision: Decision) -> str:
    """A compact plain-text view: branch, reasons, then one line per finding that is not a pass."""
    lines = [
        f"branch: {decision.branch.value}   policy: {printable(decision.policy_name)}   "
        f"as_of: {decision.as_of.isoformat()}",
    ]
    if decision.scans:
        lines.append(f"scanned: {printable(describe_scans(decision.scans))}")
    if recomputed := decision.recomputed_days():
        lines.append(f"recomputed: {printable(recomputed)}")
    lines.append("reasons:")
    lines += [f"  - {printable(reason)}" for reason in decision.reasons]
    lines.append("findings (pass omitted):")
    for finding in decision.findings:
        if finding.status.value != "pass":
            lines.append(
                f"  {finding.status.value:17s} {finding.check:24s} {printable(finding.subject):40s} "
                f"{printable(finding.message)}"
            )
    return "\n".join(lines)


def _diagnose(args: argparse.Namespace) -> int:
    policy = load_policy(args.policy)
    try:
        as_of = to_utc(args.as_of) if args.as_of else None
    except ValueError as error:
        raise UsageError(f"--as-of: {error}") from None
    retry = RetrySettings(retries=args.retries)
    warehouse = Warehouse(args.warehouse, statement_timeout_s=args.timeout, retry=retry)
    state = StateStore(args.state) if args.state else None
    key = RunKey("cli", f"cli__{(as_of.isoformat() if as_of else 'now')}", policy.name)
    decision = run_until_terminated(
        lambda: run_gate(policy, warehouse, as_of, state=state, run_key=key), warehouse.cancel
    )
    output = {
        "json": decision.to_json,
        "markdown": decision.to_markdown,
        "table": lambda: render_table(decision),
    }[args.format]()
    try:
        print(output, flush=True)
    except BrokenPipeError:
        silence_stdout()  # the decision is still recorded below: a closed pipe must not lose it
        output = ""
    if state is not None and args.record:
        recorded = _record(DecisionLog(state), key, decision)
        if recorded:
            return recorded
    if not output:
        return EXIT_BROKEN_PIPE
    return branch_exit_code(decision) if args.exit_code else 0


def silence_stdout() -> None:
    """Send what is left for stdout to /dev/null once its reader went away (`| head`), so no write fails again."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def branch_exit_code(decision: Decision) -> int:
    """The exit code of `--exit-code`: one per branch, or EXIT_UNDIAGNOSED when no judged finding chose the
    branch and some check could not diagnose (the branch is then the policy's on_error)."""
    undiagnosed = any(finding.status is Status.ERROR for finding in decision.findings)
    if undiagnosed and not any(finding.decides for finding in decision.deciding_findings):
        return EXIT_UNDIAGNOSED
    return BRANCH_EXIT_CODES[decision.branch]


def _record(log: DecisionLog, key: RunKey, decision: Decision) -> int:
    """Write the printed decision to the decision log; one line on stderr and EXIT_UNRECORDED if that fails."""
    try:
        log.record(key, decision)
    except WarehouseError as error:
        print(f"retrain-gate: the decision above was not recorded: {one_line(str(error))}", file=sys.stderr)
        return EXIT_UNRECORDED
    return 0


def _validate(args: argparse.Namespace) -> int:
    try:
        policy = load_policy(args.policy)
    except PolicyError:
        lacks = load_base_policy(args.policy)  # raises for every problem but a missing key
        if "tables" not in lacks:
            raise
        print(f"{args.policy}: valid base policy (it maps no tables, so it is meant to be extended)")
        print(f"note: a policy extending it must set {', '.join(lacks)}")
        if args.warehouse:
            print("note: nothing to check in the warehouse: a base policy maps no tables")
        return 0
    print(f"{args.policy}: valid policy {policy.name!r} (sha256 {policy.sha256[:12]})")
    if not args.warehouse:
        return 0
    try:
        as_of = to_utc(args.as_of) if args.as_of else datetime.now(UTC)
    except ValueError as error:
        raise UsageError(f"--as-of: {error}") from None
    report = dry_run(policy, Warehouse(args.warehouse, statement_timeout_s=args.timeout), as_of)
    print(report.render())
    return EXIT_BAD_MAPPING if report.failed else 0


def _schema(args: argparse.Namespace) -> int:
    print(json.dumps(policy_json_schema(), indent=2))
    return 0


def checks_markdown() -> str:
    """The catalog of checks as a markdown table: name, what it reads, what it asks for, its settings."""
    from airflow_retrain_gate.core.checks import DECISION_ORDER, REGISTRY

    lines = [
        "| check | reads | a failure asks for | what it looks at | settings (defaults) |",
        "|---|---|---|---|---|",
    ]
    for name in DECISION_ORDER:
        spec = REGISTRY[name]
        defaults = spec.settings_model().model_dump(exclude={"enabled"})
        settings = ", ".join(
            f"`{key}: {json.dumps(value)}`" for key, value in defaults.items() if key != "unknown_values"
        )
        if "unknown_values" in defaults:
            settings += ", `unknown_values: [other, unknown, ...]`"
        lines.append(
            f"| `{name}` | {', '.join(spec.reads)} | {spec.action.value} | {spec.summary} | {settings or '-'} |"
        )
    return "\n".join(lines)


def _checks(args: argparse.Namespace) -> int:
    print(checks_markdown())
    return 0


def _demo(args: argparse.Namespace) -> int:
    from airflow_retrain_gate.demo.catalog import DEMO_AS_OF, build_demo_warehouse
    from airflow_retrain_gate.demo.multiclass_world import MULTICLASS_STORIES, MulticlassStory
    from airflow_retrain_gate.demo.stories import STORIES, Story
    from airflow_retrain_gate.demo.year_world import YEAR_SCHEMA, backtest_command, build_year_demo

    # The multiclass stories too: the example DAGs read this warehouse, and a multiclass gate without its
    # tables could only take on_error.
    all_stories: dict[str, Story | MulticlassStory] = {**STORIES, **MULTICLASS_STORIES}
    expected = {name: story.branch for name, story in all_stories.items()}
    path = Path(args.path).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    url = f"duckdb:///{path}"
    started = time.perf_counter()
    names = args.story or [*expected, YEAR_SCHEMA]
    unknown = [name for name in names if name not in expected and name != YEAR_SCHEMA]
    if unknown:
        raise UsageError(
            f"--story: unknown story {unknown[0]!r} (stories: {', '.join([*expected, YEAR_SCHEMA])})"
        )
    stories = [name for name in names if name != YEAR_SCHEMA]
    progress = lambda name: print(f"  building {name} ...", file=sys.stderr)  # noqa: E731
    policies = build_demo_warehouse(url, stories, progress=progress) if stories else {}
    if YEAR_SCHEMA in names:
        progress(YEAR_SCHEMA)
        year_policy = build_year_demo(url, Path(args.write_policies or path.parent))
    print(f"Demo warehouse {path} ({time.perf_counter() - started:.1f} s); as_of {DEMO_AS_OF.isoformat()}\n")
    if policies:  # none when only the year was asked for
        warehouse = Warehouse(url)
        header = f"{'story':24s} {'expected':13s} {'branch':13s} deciding finding"
        print(header)
        print("-" * len(header))
        mismatches = 0
        for name, policy in policies.items():
            decision = run_gate(parse_policy(policy), warehouse, DEMO_AS_OF)
            deciding = decision.deciding_findings
            evidence = f"[{deciding[0].check}] {deciding[0].message}" if deciding else decision.reasons[0]
            mark = "" if decision.branch.value == expected[name] else "  <-- differs"
            mismatches += bool(mark)
            print(f"{name:24s} {expected[name]:13s} {decision.branch.value:13s} {evidence[:150]}{mark}")
        warehouse.dispose()
        print(f"\n{len(policies) - mismatches}/{len(policies)} stories took the branch they call for.")
        print(
            f"Try one yourself: retrain-gate diagnose --policy <policy.yaml> --warehouse {url} --as-of {DEMO_AS_OF.date()}"
        )
    if YEAR_SCHEMA in names:
        print(
            f"\nA year in the life of a model (schema {YEAR_SCHEMA}): replay it against a weekly retrain with"
        )
        print(f"  {backtest_command(str(year_policy), url)}")
    if args.write_policies:
        import yaml

        folder = Path(args.write_policies)
        folder.mkdir(parents=True, exist_ok=True)
        for name, policy in policies.items():
            (folder / f"{name}.yaml").write_text(yaml.safe_dump(policy, sort_keys=False))
        print(f"Policies written to {folder}/")
    return 0


def _instant(flag: str, text: str) -> datetime:
    """An ISO-8601 date or instant given to `flag`, in UTC."""
    try:
        return to_utc(text)
    except ValueError as error:
        raise UsageError(f"{flag}: {error}") from None


def _positive_duration(flag: str, text: str) -> timedelta:
    """A positive duration given to `flag` ("1d", "12h")."""
    try:
        duration = parse_duration(text)
    except ValueError as error:
        raise UsageError(f"{flag}: {error}") from None
    if duration <= timedelta(0):
        raise UsageError(f"{flag}: {text!r} is not a positive duration; write it like '1d' or '7d'")
    return duration


def _backtest(args: argparse.Namespace) -> int:
    from airflow_retrain_gate.backtest_report import RENDERERS, BacktestReport
    from airflow_retrain_gate.core.backtest_summary import compare_with_schedule

    start, end = _instant("--start", args.start), _instant("--end", args.end)
    if end < start:
        raise UsageError(f"--end: {end.isoformat()} is before --start {start.isoformat()}")
    every = _positive_duration("--every", args.every)
    schedule = _positive_duration("--schedule", args.schedule)
    plot = _plot_target(args.plot) if args.plot else None  # before the replay: fail in seconds, not minutes
    try:
        policy = load_policy(args.policy)
    except PolicyError as error:
        raise UsageError(f"--policy: {error}") from None
    timeline = _replay_until_stopped(policy, Warehouse(args.warehouse), dates_every(start, end, every))
    report = BacktestReport(policy.name, timeline, compare_with_schedule(timeline, schedule, end), args.every)
    print(RENDERERS[args.format](report), flush=True)
    if plot:
        from airflow_retrain_gate.backtest_chart import write_chart

        write_chart(report, plot)
        print(f"chart written to {plot}", file=sys.stderr)
    if not any(day.diagnosed for day in timeline):  # the report above holds each date's error
        print(
            f"retrain-gate: no replayed date could be diagnosed: {one_line(timeline[0].headline)}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    return 0


def _replay_until_stopped(policy: Policy, warehouse: Warehouse, dates: list[datetime]) -> list[ReplayedDay]:
    """Replay `dates` with progress on stderr; SIGTERM or Ctrl-C cancels the running queries and starts no
    further date, so the replay's temporary state is removed before the process ends."""
    stopped = threading.Event()

    def cancel() -> None:
        stopped.set()
        warehouse.cancel()

    try:
        return run_until_terminated(
            lambda: replay(policy, warehouse, dates, progress=_report_progress, stop=stopped), cancel
        )
    finally:
        warehouse.dispose()


def _report_progress(index: int, count: int, as_of: datetime) -> None:
    """One progress line on stderr, rewritten in place on a terminal: a long replay takes minutes."""
    end = "\r" if sys.stderr.isatty() and index < count else "\n"
    print(f"backtest: date {index} of {count} ({as_of.date()})", end=end, file=sys.stderr, flush=True)


def _plot_target(path: str) -> Path:
    """Where `--plot` draws the chart; refused at once when matplotlib or the folder is missing."""
    from airflow_retrain_gate.backtest_chart import ChartUnavailable, require_matplotlib

    try:
        require_matplotlib()
    except ChartUnavailable as error:
        raise UsageError(f"--plot: {error}") from None
    target = Path(path)
    if not target.parent.resolve().is_dir():
        raise UsageError(f"--plot: folder {str(target.parent)!r} does not exist")
    return target


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `retrain-gate`."""
    parser = _Parser(prog="retrain-gate", description="Decide whether a model should be retrained.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log progress (queries, timings) to stderr"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    diagnose = commands.add_parser("diagnose", help="run the gate and print the decision")
    diagnose.add_argument("--policy", required=True, help="policy YAML file")
    diagnose.add_argument(
        "--warehouse", required=True, help="SQLAlchemy URL, e.g. duckdb:///warehouse.duckdb"
    )
    diagnose.add_argument("--as-of", help="ISO-8601 instant the windows are relative to (default: now)")
    diagnose.add_argument("--format", choices=("json", "markdown", "table"), default="json")
    diagnose.add_argument(
        "--state", help="SQLAlchemy URL of the state database (profile cache, decision log, cooldown)"
    )
    diagnose.add_argument(
        "--record",
        action="store_true",
        help=f"write the decision to the decision log (needs --state); when that fails, the decision is still "
        f"printed and the exit code is {EXIT_UNRECORDED}",
    )
    diagnose.add_argument(
        "--timeout",
        type=bounded_number(float, 0.001, MAX_TIMEOUT_S, " seconds"),
        help=f"statement timeout in seconds (up to {MAX_TIMEOUT_S:g}; default: the policy's "
        "warehouse.statement_timeout, 10m); it also caps the connect timeout",
    )
    diagnose.add_argument(
        "--retries",
        type=bounded_number(int, 0, MAX_RETRIES),
        default=0,
        help=f"retry a warehouse read this often after a refused or lost connection (0 to {MAX_RETRIES})",
    )
    diagnose.add_argument(
        "--exit-code",
        action="store_true",
        help="exit with the branch for CI: 0 skip, 10 train, 20 alert, 30 fix_features, "
        f"{EXIT_UNDIAGNOSED} could not diagnose (default: 0 whatever the branch)",
    )
    diagnose.set_defaults(handler=_diagnose)

    validate = commands.add_parser(
        "validate-policy", help="check a policy file; with --warehouse, dry-run its mapping in the warehouse"
    )
    validate.add_argument("policy")
    validate.add_argument(
        "--warehouse",
        help="SQLAlchemy URL: reflect every mapped table and column, check their types and count rows per day "
        f"of each window (exit code {EXIT_BAD_MAPPING} when a table, column, type or filter is wrong)",
    )
    validate.add_argument("--as-of", help="ISO-8601 instant the windows are relative to (default: now)")
    validate.add_argument(
        "--timeout",
        type=bounded_number(float, 0.001, MAX_TIMEOUT_S, " seconds"),
        help="statement timeout in seconds (default: the policy's warehouse.statement_timeout)",
    )
    validate.set_defaults(handler=_validate)

    schema = commands.add_parser("schema", help="print the policy JSON Schema")
    schema.set_defaults(handler=_schema)

    checks = commands.add_parser("checks", help="print the catalog of checks as a markdown table")
    checks.set_defaults(handler=_checks)

    backtest = commands.add_parser(
        "backtest",
        help="replay the policy as of each date of a past period and compare with a fixed schedule",
    )
    backtest.add_argument("--policy", required=True, help="policy YAML file")
    backtest.add_argument("--warehouse", required=True, help="SQLAlchemy URL of the warehouse")
    backtest.add_argument("--start", required=True, help="first date to replay (ISO-8601)")
    backtest.add_argument("--end", required=True, help="last date to replay (ISO-8601, included)")
    backtest.add_argument("--every", default="1d", help="step between replayed dates (default: 1d)")
    backtest.add_argument(
        "--schedule",
        default="7d",
        help="the fixed retraining schedule to compare with, from --start (default: 7d)",
    )
    backtest.add_argument("--format", choices=("table", "json", "markdown"), default="table")
    backtest.add_argument(
        "--plot", metavar="FILE", help="also draw the timeline into a PNG (needs matplotlib)"
    )
    backtest.set_defaults(handler=_backtest)

    demo = commands.add_parser("demo", help="build a DuckDB warehouse of every story and show each decision")
    demo.add_argument("--path", default="retrain_gate_demo.duckdb", help="where to write the demo warehouse")
    demo.add_argument("--story", action="append", help="only this story (repeatable)")
    demo.add_argument("--write-policies", metavar="DIR", help="also write each story's policy YAML into DIR")
    demo.set_defaults(handler=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code: 0 for every branch (or one per branch with `--exit-code`), 1 when
    `validate-policy --warehouse` finds the mapping wrong, 2 for usage, policy or warehouse errors (also a
    backtest none of whose dates could be diagnosed), 4 when `--record` could not write the printed decision,
    128 + the signal number when stopped (141 when the reader of stdout went away)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        logging.basicConfig(
            level=logging.INFO if args.verbose else logging.WARNING,
            format="%(asctime)s %(message)s",
            stream=sys.stderr,
        )
        for handler in logging.getLogger().handlers:
            handler.addFilter(RedactingFilter())
        return int(args.handler(args))
    except Terminated as error:
        print(f"retrain-gate: {error}", file=sys.stderr, flush=True)
        if error.abandoned:  # the interpreter would wait at exit for the reads' pool threads
            sys.stdout.flush()
            os._exit(error.exit_code)
        return error.exit_code
    except (PolicyError, UsageError) as error:
        print(f"retrain-gate: {one_line(str(error))}", file=sys.stderr)
        return EXIT_USAGE
    except WarehouseError as error:
        print(f"retrain-gate: {one_line(str(error))}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        silence_stdout()  # whoever read stdout stopped (`| head`): no traceback
        return EXIT_BROKEN_PIPE


if __name__ == "__main__":
    sys.exit(main())
