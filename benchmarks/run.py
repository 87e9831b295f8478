"""The benchmark command: generate tables, time the floor, the gate (first and cached run) and Evidently.

python -m benchmarks.run --sizes quick             # 100k rows, CI-like, results in benchmarks/data/
python -m benchmarks.run --sizes full              # 1M, 10M, 100M; updates benchmarks/README.md and the plot
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from airflow_retrain_gate.demo.spark_server import SparkThriftServer, java_missing
from benchmarks import datasets, evidently_env, report, scenario
from benchmarks.measure import ProbeOutcome, run_probe
from benchmarks.plan import Plan, Step
from benchmarks.progress import clock, say
from benchmarks.results import Measurement, save

HERE = Path(__file__).resolve().parent
SIZES = {"quick": [100_000], "full": [1_000_000, 10_000_000, 100_000_000]}
BYTES_PER_ROW = {"duckdb": 60, "postgresql": 145, "spark": 100}
"""Measured table sizes (DuckDB file 55, PostgreSQL heap + BRIN index 140, Spark: the DuckDB file and its
Parquet copy), to skip sizes the disk cannot hold."""
DISK_MARGIN_BYTES = 5 * 2**30
PROBE_MEMORY_CAP_MB = 4096
PROBE_TIME_LIMIT_S = 3 * 3600
LARGE_ROWS = 50_000_000
"""From this size on, the gate's first run is timed once instead of `--repeats` times (the floor, cheap, is not)."""
T = TypeVar("T")


def parse_sizes(text: str) -> list[int]:
    """``quick``, ``full`` or a list such as ``1M,10M,250k``."""
    if text in SIZES:
        return SIZES[text]
    units = {"k": 10**3, "M": 10**6, "B": 10**9}
    return [
        int(float(part[:-1]) * units[part[-1]]) if part[-1] in units else int(part)
        for part in text.split(",")
    ]


class Bench:
    """Runs the plan for each engine and size and stores each measurement as soon as it is complete."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.postgres_libpq = args.postgres_url
        self.postgres_sqlalchemy = args.postgres_url.replace("postgresql://", "postgresql+psycopg2://", 1)
        self.evidently_python = None if args.no_evidently else evidently_env.ensure()
        self.evidently_failed: dict[str, str] = {"spark": "Spark is measured against the floor only"}
        steps = [
            Step(kind, engine, rows)
            for rows in args.sizes
            for engine in args.engines
            for kind in ("generate", "floor", "gate")
            + (() if args.no_evidently or engine == "spark" else ("evidently",))
        ]
        self.plan = Plan(steps)
        self.spark: SparkThriftServer | None = None
        """Spark's Thrift server (two executors), started when a Spark step first needs it."""

    def run(self) -> None:
        """Every size (smallest first), every engine."""
        try:
            for rows in self.args.sizes:
                for engine in self.args.engines:
                    measurement = self.measure(engine, rows)
                    save(self.args.results, measurement, {"postgresql": self._postgres_version()})
                    if rows > self.args.keep_up_to and not measurement.skipped:
                        self._drop_data(engine, rows)
        finally:
            if self.spark is not None:
                self.spark.stop()

    def _spark_url(self) -> str:
        if self.spark is None:
            say("  spark: starting the Thrift server (local-cluster, 2 executors of 1 core, 2 GB each)")
            self.spark = SparkThriftServer(scenario.DATA_DIR / "spark-server", executor_memory_mb=2048)
            self.spark.start()
        return self.spark.url

    def measure(self, engine: str, rows: int) -> Measurement:
        """Generate (or reuse) one table and measure floor, gate, cached gate and Evidently on it."""
        measurement = Measurement(engine, rows)
        load_before = os.getloadavg()[0]
        skipped = self._skip_reason(engine, rows)
        if skipped:
            say(f"  {engine} {scenario.size_label(rows)}: skipped: {skipped}")
            measurement.skipped = skipped
            for kind in ("generate", "floor", "gate", "evidently"):
                self.plan.drop(Step(kind, engine, rows))
            return measurement
        target = self._timed(Step("generate", engine, rows), lambda: self._generate(engine, rows))
        self._timed(Step("floor", engine, rows), lambda: self._floor(measurement, target))
        self._timed(Step("gate", engine, rows), lambda: self._gate(measurement))
        if self.evidently_python is not None and engine != "spark":
            self._timed(Step("evidently", engine, rows), lambda: self._evidently(measurement, target))
        measurement.load_average = (load_before, os.getloadavg()[0])
        say(f"  {engine} {scenario.size_label(rows)}: {report.summary_line(measurement)}")
        return measurement

    def _gate_repeats(self, rows: int) -> int:
        return self.args.repeats if rows < LARGE_ROWS else 1

    def _timed(self, step: Step, action: Callable[[], T]) -> T | None:
        if step not in self.plan.steps:
            return None
        self.plan.begin(step)
        started = time.perf_counter()
        value = action()
        self.plan.finish(step, time.perf_counter() - started)
        return value

    def _skip_reason(self, engine: str, rows: int) -> str | None:
        if engine == "postgresql" and self._postgres_version() is None:
            return f"PostgreSQL does not answer at {self.postgres_libpq}"
        if engine == "spark" and java_missing():
            return java_missing()
        needed = BYTES_PER_ROW[engine] * rows
        already = scenario.duckdb_path(rows).exists() if engine == "duckdb" else False
        free = shutil.disk_usage(scenario.DATA_DIR.parent).free
        if not already and needed + DISK_MARGIN_BYTES > free:
            return f"needs ~{needed / 2**30:.0f} GB of disk plus a {DISK_MARGIN_BYTES / 2**30:.0f} GB margin, {free / 2**30:.0f} GB free"
        return None

    def _generate(self, engine: str, rows: int) -> str:
        # In a subprocess: DuckDB generates in-process and its memory would otherwise stay with this runner.
        command = [sys.executable, "-m", "benchmarks.datasets", "--engine", engine, "--rows", str(rows)]
        if engine == "spark":
            subprocess.run([*command, "--spark-url", self._spark_url()], check=True, cwd=HERE.parent)
            return self._spark_url()
        subprocess.run([*command, "--postgres-url", self.postgres_libpq], check=True, cwd=HERE.parent)
        return str(scenario.duckdb_path(rows)) if engine == "duckdb" else self.postgres_libpq

    def _probe(
        self, step: Step, module: str, arguments: list[str], python: str = sys.executable, **limits: float
    ) -> ProbeOutcome:
        command = [
            python,
            "-m",
            f"benchmarks.{module}",
            "--engine",
            step.engine,
            "--rows",
            str(step.rows),
            *arguments,
        ]
        outcome = run_probe(
            command,
            step.label,
            time_limit_s=limits.get("time_limit_s", PROBE_TIME_LIMIT_S),
            memory_cap_mb=limits.get("memory_cap_mb", PROBE_MEMORY_CAP_MB),
            expected_s=self.plan.expected_s(step),
        )
        if outcome.failure and module != "evidently_probe":
            raise RuntimeError(f"{step.label}: {outcome.failure}\n" + "\n".join(outcome.stderr_tail))
        return outcome

    def _floor(self, measurement: Measurement, target: str) -> None:
        step = Step("floor", measurement.engine, measurement.rows)
        self._probe(step, "floor_probe", ["--target", target])  # warm the OS page cache; not counted
        runs = [
            self._probe(step, "floor_probe", ["--target", target]).result for _ in range(self.args.repeats)
        ]
        best = min(runs, key=lambda result: result["seconds"])  # type: ignore[index]
        assert best is not None
        measurement.floor_s = best["seconds"]
        measurement.window_rows = best["window_rows"]

    def _gate(self, measurement: Measurement) -> None:
        step = Step("gate", measurement.engine, measurement.rows)
        if measurement.engine == "duckdb":
            url = f"duckdb:///{scenario.duckdb_path(measurement.rows)}"
            state = ["--state-url", f"sqlite:///{self._state_file(measurement.engine, measurement.rows)}"]
        elif measurement.engine == "spark":
            url = self._spark_url()
            state = ["--state-url", f"sqlite:///{self._state_file(measurement.engine, measurement.rows)}"]
        else:
            url = self.postgres_sqlalchemy
            state = [
                "--state-url",
                self.postgres_sqlalchemy,
                "--state-schema",
                scenario.state_schema(measurement.rows),
            ]
        first_runs = []
        for _ in range(self._gate_repeats(step.rows)):
            self._reset_state(measurement.engine, measurement.rows)
            first_runs.append(self._probe(step, "gate_probe", ["--url", url, *state]).result)
        for result in first_runs:
            if result is None or not result["queries"]:
                reasons = "; ".join(result["reasons"]) if result else "no result"
                raise RuntimeError(f"{step.label}: the gate sent no query, so it measured nothing: {reasons}")
        # Steady state: yesterday's run cached its day parts; today one new day arrived in each window. Timed as
        # often as the first run, best kept, so that both sides of the ratio are the same estimate.
        steady_runs = []
        for _ in range(self._gate_repeats(step.rows)):
            self._reset_state(measurement.engine, measurement.rows)
            self._probe(step, "gate_probe", ["--url", url, *state, "--days-before", "1"])
            steady_runs.append(self._probe(step, "gate_probe", ["--url", url, *state]).result)
        best = min(first_runs, key=lambda result: result["seconds"])  # type: ignore[index]
        steady = min(steady_runs, key=lambda result: result["seconds"])  # type: ignore[index]
        assert best is not None and steady is not None
        measurement.gate_s = best["seconds"]
        measurement.gate_peak_rss_mb = max(result["peak_rss_mb"] for result in first_runs)  # type: ignore[index]
        measurement.rows_fetched = best["rows_fetched"]
        measurement.queries = best["queries"]
        measurement.query_log = [tuple(entry) for entry in best["query_log"]]
        measurement.branch = best["branch"]
        measurement.steady_s = steady["seconds"]
        measurement.steady_peak_rss_mb = steady["peak_rss_mb"]
        measurement.steady_note = steady["day_parts"]
        if self.args.backtest_dates:
            dates = ["--dates", str(self.args.backtest_dates)]
            backtest = self._probe(step, "backtest_probe", ["--url", url, *dates]).result
            assert backtest is not None
            measurement.backtest_s = backtest["seconds"]
            measurement.backtest_peak_rss_mb = backtest["peak_rss_mb"]
        if measurement.engine == "duckdb" and self.args.duckdb_memory_limit:
            limit = ["--duckdb-memory-limit", self.args.duckdb_memory_limit]
            limited = self._probe(step, "gate_probe", ["--url", url, *limit]).result
            assert limited is not None
            measurement.memory_limit = self.args.duckdb_memory_limit
            measurement.limited_s = limited["seconds"]
            measurement.limited_peak_rss_mb = limited["peak_rss_mb"]

    @staticmethod
    def _state_file(engine: str, rows: int) -> Path:
        """The DuckDB and Spark runs' state database (SQLite: the warehouse stays read-only)."""
        return scenario.DATA_DIR / f"state-{engine}-{scenario.size_label(rows)}.sqlite"

    def _reset_state(self, engine: str, rows: int) -> None:
        if engine in ("duckdb", "spark"):
            self._state_file(engine, rows).unlink(missing_ok=True)
            return
        import psycopg2

        connection = psycopg2.connect(self.postgres_libpq)
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(f"DROP SCHEMA IF EXISTS {scenario.state_schema(rows)} CASCADE")
        connection.close()

    def _evidently(self, measurement: Measurement, target: str) -> None:
        step = Step("evidently", measurement.engine, measurement.rows)
        if measurement.engine in self.evidently_failed:
            measurement.evidently_failure = f"not attempted: {self.evidently_failed[measurement.engine]}"
            return
        outcome = self._probe(
            step,
            "evidently_probe",
            ["--target", target],
            python=str(self.evidently_python),
            time_limit_s=self.args.evidently_timeout,
            memory_cap_mb=self.args.evidently_memory_gb * 1024,
        )
        for leftover in scenario.DATA_DIR.glob("evidently-*.csv"):
            leftover.unlink()  # the CSV export of a PostgreSQL window, left behind when the probe was killed
        measurement.evidently_peak_rss_mb = outcome.polled_peak_rss_mb
        if outcome.result is None:
            measurement.evidently_failure = outcome.failure
            measurement.evidently_s = outcome.wall_s  # a lower bound: it was stopped or crashed here
            self.evidently_failed[measurement.engine] = (
                f"failed at {scenario.size_label(measurement.rows)} ({outcome.failure})"
            )
            return
        measurement.evidently_s = outcome.result["seconds"]
        measurement.evidently_load_s = outcome.result["load_seconds"]
        measurement.evidently_peak_rss_mb = outcome.result["peak_rss_mb"]

    def _drop_data(self, engine: str, rows: int) -> None:
        say(
            f"  {engine} {scenario.size_label(rows)}: deleting the generated data (--keep-up-to {self.args.keep_up_to})"
        )
        if engine == "duckdb":
            scenario.duckdb_path(rows).unlink(missing_ok=True)
            self._state_file(engine, rows).unlink(missing_ok=True)
        elif engine == "spark":
            shutil.rmtree(scenario.parquet_dir(rows), ignore_errors=True)
            scenario.duckdb_path(rows).unlink(missing_ok=True)  # the Parquet copy's source
            self._state_file(engine, rows).unlink(missing_ok=True)
        else:
            datasets.drop_postgres(self.postgres_libpq, rows)

    def _postgres_version(self) -> str | None:
        import psycopg2

        try:
            connection = psycopg2.connect(self.postgres_libpq, connect_timeout=3)
        except psycopg2.OperationalError:
            return None
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            row = cursor.fetchone()
        connection.close()
        return str(row[0]) if row else None


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and run the benchmark."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes", default="quick", help="quick (100k), full (1M,10M,100M) or a list like 1M,10M"
    )
    parser.add_argument(
        "--engines", default="duckdb,postgresql", help="comma-separated: duckdb, postgresql, spark"
    )
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument(
        "--repeats", type=int, default=3, help="timed runs of the floor and the gate's first run (best kept)"
    )
    parser.add_argument(
        "--duckdb-memory-limit",
        default="",
        help="also run the DuckDB gate with this memory_limit set when its engine is created, e.g. 64MB "
        "(the gate's own default is 128MB, RETRAIN_GATE_DUCKDB_MEMORY_LIMIT)",
    )
    parser.add_argument("--no-evidently", action="store_true", help="skip Evidently (and its virtualenv)")
    parser.add_argument(
        "--backtest-dates",
        type=int,
        default=scenario.BACKTEST_DATES,
        help="daily decisions the backtest replays, ending at as_of (0: no backtest)",
    )
    parser.add_argument(
        "--evidently-timeout", type=float, default=1800, help="seconds before Evidently is stopped"
    )
    parser.add_argument(
        "--evidently-memory-gb", type=float, default=10, help="RSS at which Evidently is stopped"
    )
    parser.add_argument(
        "--keep-up-to", type=int, default=1_000_000, help="delete generated data above this many rows"
    )
    parser.add_argument(
        "--results", type=Path, help="results JSON (default: benchmarks/results.json for full sizes)"
    )
    parser.add_argument(
        "--update-readme", action=argparse.BooleanOptionalAction, default=None, help="table and plot"
    )
    args = parser.parse_args(argv)
    args.sizes = sorted(parse_sizes(args.sizes))
    args.engines = args.engines.split(",")
    full = args.sizes != SIZES["quick"]
    args.results = args.results or (
        HERE / "results.json" if full else scenario.DATA_DIR / "results-quick.json"
    )
    update_readme = full if args.update_readme is None else args.update_readme
    started = time.perf_counter()
    Bench(args).run()
    say(f"done in {clock(time.perf_counter() - started)}; results in {args.results}")
    print(report.table(args.results))
    if update_readme:
        report.update_readme(args.results, HERE / "README.md")
        report.plot(args.results, HERE / "bench.png")


if __name__ == "__main__":
    main()
