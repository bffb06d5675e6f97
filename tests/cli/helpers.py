"""Run `callsync` as users do: a real process, its exit code and its two streams."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipelines.cli import main


@dataclass
class Run:
    code: int
    out: str
    err: str


def callsync(*args: str, cwd: Path, timeout: float = 120) -> Run:
    env = {k: v for k, v in os.environ.items()}
    done = subprocess.run([sys.executable, "-m", "pipelines", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)
    return Run(done.returncode, done.stdout, done.stderr)


def callsync_here(*args: str, capsys: pytest.CaptureFixture[str]) -> Run:
    """The same command in this process (no interpreter and dlt start-up to pay)."""
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return Run(code, out, err)
