"""Run the real command line in a fresh interpreter, importing this checkout (the tests' one way)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_cli(
    *args: str, cwd: Path, env: Mapping[str, str] | None = None, timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    """``python -m onboarding_analysis ARGS`` in ``cwd``, with ``env`` added to the environment
    and this checkout first on ``PYTHONPATH``; never raises on a non-zero exit."""
    environ = os.environ | dict(env or {})
    path = environ.get("PYTHONPATH")
    environ["PYTHONPATH"] = str(ROOT) + (os.pathsep + path if path else "")
    return subprocess.run(
        [sys.executable, "-m", "onboarding_analysis", *args],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
