"""`make spark-demo`: the stories on a real Spark SQL engine, diagnosed by `retrain-gate diagnose`.

Starts a Thrift server from the pyspark package (two executors), loads every story into its own schema as
Parquet tables, runs the CLI on each story's policy, and stops the server.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

from airflow_retrain_gate.demo.catalog import DEMO_AS_OF, build_demo_warehouse
from airflow_retrain_gate.demo.spark_server import SparkThriftServer
from airflow_retrain_gate.demo.stories import STORIES

CLI = shutil.which("retrain-gate", path=str(Path(sys.executable).parent)) or "retrain-gate"
"""The CLI installed next to this Python (make's targets do not activate the virtualenv)."""


def main(argv: list[str] | None = None) -> int:
    """Run the demo; the exit code is 1 when a story took another branch than the one it calls for."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workdir", default="demo_home/spark", help="server files, tables and policies")
    parser.add_argument(
        "--story", action="append", choices=list(STORIES), help="only this story (repeatable)"
    )
    parser.add_argument("--rows-per-day", type=int, default=1000)
    args = parser.parse_args(argv)
    workdir = Path(args.workdir).resolve()
    names = args.story or list(STORIES)
    print(f"Starting Spark's Thrift server (local-cluster, 2 executors; log {workdir}/thrift-server.log) ...")
    with SparkThriftServer(workdir, small_tables=True) as server:
        print(f"Loading {len(names)} stories into {server.url} ...")
        policies = build_demo_warehouse(server.url, names, rows_per_day=args.rows_per_day)
        folder = workdir / "policies"
        folder.mkdir(exist_ok=True)
        mismatches = 0
        for name, policy in policies.items():
            path = folder / f"{name}.yaml"
            path.write_text(yaml.safe_dump(policy, sort_keys=False))
            command = [
                *(CLI, "diagnose", "--policy", str(path), "--warehouse", server.url),
                *("--as-of", DEMO_AS_OF.isoformat(), "--format", "json"),
            ]
            started = time.perf_counter()
            shown = " ".join(command)
            result = subprocess.run(command, capture_output=True, text=True, check=False)
            if result.returncode != 0:
                print(f"{shown}\n{result.stderr}", file=sys.stderr)
                return result.returncode
            branch = json.loads(result.stdout)["branch"]
            expected = STORIES[name].branch
            mismatches += branch != expected
            mark = "" if branch == expected else "  <-- differs"
            print(
                f"{name:24s} expected {expected:13s} got {branch:13s} ({time.perf_counter() - started:.0f} s){mark}"
            )
        print(
            f"\n{len(policies) - mismatches}/{len(policies)} stories took the branch they call for on Spark SQL."
        )
        print(
            f"Policies in {folder}/ (the server stops now; `SparkThriftServer` in spark_server.py starts one)."
        )
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
