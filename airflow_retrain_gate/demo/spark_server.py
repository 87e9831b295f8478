"""A Spark SQL Thrift server on this machine, from the jars the pyspark package ships (no download).

It runs in local-cluster mode: a master, one worker per executor and the executors are separate JVMs, so
queries really run distributed (shuffles between executors, partial aggregates merged by the driver).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

THRIFT_SERVER_CLASS = "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2"
START_TIMEOUT_S = 240.0


SMALL_TABLE_SETTINGS = {"spark.sql.codegen.wholeStage": "false", "spark.sql.adaptive.enabled": "false"}
"""For the tests' and the demo's thousands of rows: compiling each query to Java code and re-planning it
adaptively cost more than they save (measured: a story's gate 25 s -> 20 s); large tables want both."""


def spark_home() -> Path:
    """The pyspark package's directory, which holds bin/spark-submit and jars/ (an ImportError without it)."""
    import pyspark

    return Path(pyspark.__file__).parent


def java_missing() -> str | None:
    """Why Spark cannot start here (no Java runtime), or None when it can."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home and Path(java_home, "bin", "java").exists():
        return None
    if shutil.which("java"):
        return None
    return "no Java runtime: Spark needs `java` on PATH or JAVA_HOME (e.g. Debian's openjdk-17-jre-headless)"


def free_port() -> int:
    """A TCP port nobody listens on at the moment."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class SparkThriftServer:
    """Spark's Thrift server with `executors` executors of one core each, its metastore and tables in `workdir`.

    Use it as a context manager, or call `start` and `stop`; `url` is its `spark://` SQLAlchemy URL.
    `small_tables` tunes it for test-sized tables (SMALL_TABLE_SETTINGS).
    """

    def __init__(
        self,
        workdir: Path,
        *,
        port: int | None = None,
        executors: int = 2,
        executor_memory_mb: int = 1024,
        shuffle_partitions: int = 4,
        small_tables: bool = False,
    ) -> None:
        self.workdir = Path(workdir).resolve()
        self.port = port or free_port()
        self.executors = executors
        self.executor_memory_mb = executor_memory_mb
        self.shuffle_partitions = shuffle_partitions
        self.small_tables = small_tables
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of the server's `default` database."""
        return f"spark://gate@127.0.0.1:{self.port}/default"

    @property
    def log_path(self) -> Path:
        """Where the server's log goes."""
        return self.workdir / "thrift-server.log"

    def command(self) -> list[str]:
        """The spark-submit command line (pyspark does not ship start-thriftserver.sh)."""
        work = self.workdir
        settings = {
            "spark.ui.enabled": "false",
            "spark.sql.warehouse.dir": str(work / "warehouse"),
            "spark.local.dir": str(work / "tmp"),
            "spark.hadoop.javax.jdo.option.ConnectionURL": f"jdbc:derby:;databaseName={work / 'metastore_db'};create=true",
            "spark.driver.extraJavaOptions": f"-Dderby.system.home={work}",
            "spark.sql.session.timeZone": "UTC",
            "spark.sql.shuffle.partitions": str(self.shuffle_partitions),
            "spark.executor.memory": f"{self.executor_memory_mb}m",
        }
        if self.small_tables:
            settings.update(SMALL_TABLE_SETTINGS)
        command = [
            str(spark_home() / "bin" / "spark-submit"),
            "--class",
            THRIFT_SERVER_CLASS,
            "--master",
            f"local-cluster[{self.executors},1,{self.executor_memory_mb}]",
            "--driver-memory",
            "1g",
        ]
        for key, value in settings.items():
            command += ["--conf", f"{key}={value}"]
        command += [
            "--hiveconf",
            f"hive.server2.thrift.port={self.port}",
            "--hiveconf",
            "hive.server2.thrift.bind.host=127.0.0.1",
            "spark-internal",
        ]
        return command

    def start(self, timeout_s: float = START_TIMEOUT_S) -> None:
        """Launch the server and wait until it answers a query; a server that dies or stays silent is an error
        quoting the end of its log."""
        reason = java_missing()
        if reason:
            raise RuntimeError(reason)
        self.workdir.mkdir(parents=True, exist_ok=True)
        environment = {**os.environ, "SPARK_HOME": str(spark_home()), "SPARK_LOCAL_IP": "127.0.0.1"}
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                self.command(),
                cwd=self.workdir,
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout_s
        while not self._answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the Spark Thrift server did not start:\n{self._log_tail()}")
            time.sleep(1.0)

    def stop(self) -> None:
        """Stop the server with its master, workers and executors (its own process group)."""
        if self.process is None:
            return
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None

    def __enter__(self) -> SparkThriftServer:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    def _answers(self) -> bool:
        from pyhive import hive

        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                pass
            connection = hive.connect(host="127.0.0.1", port=self.port, username="gate")
        except Exception:  # noqa: BLE001 - not listening yet
            return False
        try:
            cursor = connection.cursor()
            cursor.execute("SELECT 1")
            return cursor.fetchall() == [(1,)]
        finally:
            connection.close()

    def _log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])
