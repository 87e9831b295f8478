"""Driving a real Airflow for the UI plugin: a site's configuration, its processes, and headless Chromium.

Used by the tests in this folder and by readme_screenshots.py.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Browser, FrameLocator, Page, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
"""Debian's chromium (`apt-get install -y chromium`): Playwright drives it and never downloads a browser."""
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@dataclass(frozen=True)
class AirflowSite:
    """A migrated Airflow home with its configuration as environment variables."""

    home: Path
    config: dict[str, str]
    passwords: dict[str, str]

    @property
    def env(self) -> dict[str, str]:
        """The environment of a process that runs against this site."""
        return {**os.environ, **self.config}

    def airflow(self, *args: str, timeout: float = 180) -> str:
        """Run an `airflow` command of this site; returns its output, raises if it fails."""
        done = subprocess.run(
            [sys.executable, "-m", "airflow", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"airflow {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
            )
        return done.stdout


def connection(url: str, **extra: Any) -> str:
    """An `AIRFLOW_CONN_*` value for the WarehouseHook's connection type."""
    return json.dumps({"conn_type": "retrain_gate_warehouse", "extra": {"sqlalchemy_url": url, **extra}})


class Process:
    """A background command, its output in a file; `stop` ends it and its children."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log: Path) -> None:
        self.name, self.log = name, log
        with open(log, "w") as output:
            self.popen = subprocess.Popen(
                args, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
            )

    def died(self) -> str | None:
        """None while it runs; else its exit code and the end of its output."""
        if self.popen.poll() is None:
            return None
        return f"{self.name} exited with {self.popen.returncode}:\n{self.log.read_text()[-4000:]}"

    def stop(self) -> None:
        """SIGTERM the process group started here, SIGKILL it if it is still there after 20 s."""
        for sig, grace in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
            if self.popen.poll() is not None:
                return
            try:
                os.killpg(self.popen.pid, sig)
                self.popen.wait(grace)
            except ProcessLookupError:
                return
            except subprocess.TimeoutExpired:
                continue


def wait_for(what: str, ready: Callable[[], Any], timeout: float, *processes: Process) -> Any:
    """Poll `ready` every second until it returns something truthy; raise early if a process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for process in processes:
            if (died := process.died()) is not None:
                raise RuntimeError(f"while waiting for {what}: {died}")
        if value := ready():
            return value
        time.sleep(1)
    raise TimeoutError(f"{what}: not within {timeout:.0f} s")


@contextmanager
def api_server(env: dict[str, str], log: Path) -> Iterator[tuple[str, Process]]:
    """`airflow api-server` on a free localhost port, its URL as `[api] base_url`; stopped on exit."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base_url = f"http://127.0.0.1:{port}"
    command = [
        sys.executable,
        "-m",
        "airflow",
        "api-server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    server = Process("airflow api-server", command, {**env, "AIRFLOW__API__BASE_URL": base_url}, log)

    def healthy() -> bool:
        try:
            return httpx.get(f"{base_url}/api/v2/monitor/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for("the api-server to answer", healthy, 120, server)
        yield base_url, server
    finally:
        server.stop()


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's headless Chromium driven by Playwright."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def log_in(page: Page, base_url: str, user: str, password: str) -> None:
    """Log in through the simple auth manager's form, as a person would."""
    page.goto(f"{base_url}/")
    page.locator("input[name='username']").fill(user)
    page.locator("input[name='password']").fill(password)
    page.locator("button[type='submit']").click()
    page.wait_for_url(lambda url: "/auth/login" not in url, timeout=30_000)


def screenshot_frame(browser: Browser, frame: FrameLocator, page: Page, path: Path) -> None:
    """A full-length screenshot of the page an embedded view shows (the iframe scrolls inside the UI)."""
    source = frame.locator("body").evaluate("() => window.location.href")
    standalone = browser.new_page(
        viewport={"width": 1200, "height": 900}, storage_state=page.context.storage_state()
    )
    standalone.goto(source)
    standalone.screenshot(path=path, full_page=True)
    standalone.close()
