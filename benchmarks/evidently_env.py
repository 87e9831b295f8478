"""Creates benchmarks/.venv-evidently (Evidently, pandas<3, matplotlib) on first use; git-ignored."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

from benchmarks.progress import say

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv-evidently"
REQUIREMENTS = HERE / "requirements-evidently.txt"


def python() -> Path:
    """The virtualenv's interpreter."""
    return VENV / "bin" / "python"


def requirements() -> list[str]:
    """The pinned requirements, plus the DuckDB release the warehouse files were written with (same file format)."""
    lines = [line.strip() for line in REQUIREMENTS.read_text().splitlines()]
    return [line for line in lines if line and not line.startswith("#")] + [f"duckdb=={version('duckdb')}"]


def ensure() -> Path:
    """Create or update the virtualenv when its requirements changed; returns its interpreter."""
    wanted = hashlib.sha256("\n".join(requirements()).encode()).hexdigest()
    stamp = VENV / ".requirements-sha256"
    if python().exists() and stamp.exists() and stamp.read_text() == wanted:
        return python()
    say(
        f"  creating {VENV.relative_to(HERE.parent)} ({', '.join(requirements())}); this takes a few minutes once"
    )
    if not python().exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(python()), "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True)
    subprocess.run([str(python()), "-m", "pip", "install", "--quiet", *requirements()], check=True)
    stamp.write_text(wanted)
    return python()
