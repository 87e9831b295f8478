"""The demo under real Airflow: runs every example DAG once and prints the branch each gate took.

``python -m airflow_retrain_gate.demo.airflow_demo`` keeps everything in ``$RETRAIN_GATE_DEMO_HOME``
(default ./demo_home): Airflow's home and metadata database, the DuckDB demo warehouse and the gate's
state database. ``--standalone`` then starts ``airflow standalone`` on the same home, so the runs can be
looked at in the UI.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_retrain_gate.demo.catalog import DEMO_AS_OF
from airflow_retrain_gate.demo.provision import DEMO_STATE_CONN_ID, demo_connection_env, demo_home
from airflow_retrain_gate.demo.stories import STORIES

if TYPE_CHECKING:
    from airflow.models.dagrun import DagRun
    from airflow.sdk import DAG

EXAMPLE_DAGS = Path(__file__).resolve().parents[2] / "dags_examples"
"""The example DAGs of a source checkout (the package itself does not ship them)."""


@dataclass(frozen=True)
class DagRunSummary:
    """What one DAG run did: its state, every task instance's state, and each gate's decision."""

    dag_id: str
    run_id: str
    state: str
    task_states: dict[str, str]
    """``task_id`` (``task_id[map_index]`` for a mapped task instance) -> state."""
    decisions: dict[str, dict[str, Any]]
    """Gate task (same naming) -> the decision it pushed to XCom."""

    @property
    def branches(self) -> dict[str, str]:
        """Gate task -> branch taken."""
        return {task: decision["branch"] for task, decision in self.decisions.items()}


def summarize(dag_run: DagRun) -> DagRunSummary:
    """Read a finished run's task states and gate decisions back from the metadata database."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    from airflow_retrain_gate.operators.gate import XCOM_DECISION_KEY

    with create_session() as session:
        # Same statement; restating the entity types its rows as XComModel (Airflow annotates it SQLAlchemy 1.4's way).
        query = XComModel.get_many(
            run_id=dag_run.run_id, key=XCOM_DECISION_KEY, dag_ids=dag_run.dag_id
        ).with_only_columns(XComModel)
        xcoms = sorted(session.scalars(query), key=lambda xcom: (xcom.task_id, xcom.map_index))
        decisions = {
            instance_name(xcom.task_id, xcom.map_index): XComModel.deserialize_value(xcom) for xcom in xcoms
        }
    return DagRunSummary(
        dag_id=dag_run.dag_id,
        run_id=dag_run.run_id,
        state=str(dag_run.state),
        task_states={
            instance_name(ti.task_id, ti.map_index): str(ti.state) for ti in dag_run.get_task_instances()
        },
        decisions=decisions,
    )


def instance_name(task_id: str, map_index: int) -> str:
    """How summaries name a task instance: ``task_id``, or ``task_id[map_index]`` when mapped."""
    return task_id if map_index < 0 else f"{task_id}[{map_index}]"


def load_example_dags(dags_folder: Path = EXAMPLE_DAGS) -> dict[str, DAG]:
    """The example DAGs by id; an import error in any file raises with its traceback."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(str(dags_folder))
    if bag.import_errors:
        raise RuntimeError("example DAGs failed to import:\n" + "\n".join(bag.import_errors.values()))
    return dict(bag.dags)


def run_example_dag(dag: DAG, logical_date: datetime = DEMO_AS_OF) -> DagRunSummary:
    """Run one example DAG with ``dag.test()`` (the DAG file must be in the configured dags folder)."""
    return summarize(dag.test(logical_date=logical_date))


def demo_environment(home: Path, dags_folder: Path, metadata_db: str | None) -> dict[str, str]:
    """Variables pointing Airflow at the demo home, its metadata database and the example DAGs."""
    return {
        "AIRFLOW_HOME": str(home / "airflow"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_db or f"sqlite:///{home / 'airflow' / 'airflow.db'}",
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "RETRAIN_GATE_DEMO_HOME": str(home),
        "AIRFLOW__RETRAIN_GATE__STATE_CONN_ID": DEMO_STATE_CONN_ID,  # where the UI plugin reads decisions
    }


def print_summary(summary: DagRunSummary, seconds: float) -> None:
    """One line per gate: DAG, gate task, policy, branch, what the story expects, and the first reason."""
    story = STORIES.get(summary.dag_id.removeprefix("retrain_gate_"))
    expected = story.branch if story else ""
    if not summary.decisions:
        print(f"{summary.dag_id:38s} {'(no gate)':20s} {'':24s} {summary.state:13s} {'':13s} {seconds:5.1f}s")
    for task, decision in summary.decisions.items():
        mark = "  <-- differs" if expected and decision["branch"] != expected else ""
        reason = (decision["reasons"] or [""])[0]
        print(
            f"{summary.dag_id:38s} {task:20s} {decision['policy_name']:24s} {decision['branch']:13s} {expected:13s} "
            f"{seconds:5.1f}s  {reason[:80]}{mark}"
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Run every example DAG (or those named) and print each gate's branch; optionally start the UI."""
    parser = argparse.ArgumentParser(
        prog="python -m airflow_retrain_gate.demo.airflow_demo", description=__doc__
    )
    parser.add_argument("dag_ids", nargs="*", help="only these DAGs (default: every example DAG)")
    parser.add_argument("--dags-folder", type=Path, default=EXAMPLE_DAGS, help="folder of the example DAGs")
    parser.add_argument(
        "--metadata-db", help="Airflow metadata database URL (default: SQLite in the demo home)"
    )
    parser.add_argument("--summaries", type=Path, help="also write each run's summary to this JSON file")
    parser.add_argument(
        "--standalone", action="store_true", help="then start `airflow standalone` on the demo home"
    )
    args = parser.parse_args(argv)
    home = demo_home()
    os.environ.update(demo_environment(home, args.dags_folder.resolve(), args.metadata_db))
    for name, value in demo_connection_env().items():
        os.environ.setdefault(
            name, value
        )  # connections defined by the caller win (e.g. a PostgreSQL warehouse)
    (home / "airflow").mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True)
    # The table below, not every task's log, nor dag.test()'s warnings about assets no DAG processor registered.
    os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "ERROR"
    dags = load_example_dags(args.dags_folder)
    unknown = sorted(set(args.dag_ids) - set(dags))
    if unknown:
        parser.error(f"unknown DAG {unknown[0]!r} (example DAGs: {', '.join(sorted(dags))})")
    print(f"Airflow home {home / 'airflow'}; each DAG runs once, as of {DEMO_AS_OF.isoformat()}\n")
    print(
        f"{'dag':38s} {'gate task':20s} {'policy':24s} {'branch':13s} {'expected':13s} {'time':6s}  first reason"
    )
    summaries = []
    for dag_id in args.dag_ids or sorted(dags):
        started = time.perf_counter()
        summaries.append(run_example_dag(dags[dag_id]))
        print_summary(summaries[-1], time.perf_counter() - started)
    if args.summaries:
        args.summaries.write_text(json.dumps([asdict(summary) for summary in summaries], indent=2))
    failed = [summary.dag_id for summary in summaries if summary.state != "success"]
    if failed:
        print(f"\nRuns that did not succeed: {', '.join(failed)}")
    if args.standalone:
        del os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"]
        # standalone starts its components as `airflow ...`: the one installed next to this interpreter
        os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
        print(
            f"\nStarting airflow standalone on {home / 'airflow'}; it prints the admin login below.",
            flush=True,
        )
        os.execvp(sys.executable, [sys.executable, "-m", "airflow", "standalone"])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
