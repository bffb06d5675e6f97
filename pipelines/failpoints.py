"""Crash points for the tests: `CALLSYNC_FAILPOINT=<name>` kills the process there.

The crash tests run `callsync sync` in a real subprocess and SIGKILL it at each point,
then check that the next run ends with the tables of one clean run.
"""

from __future__ import annotations

import os
import signal


def failpoint(name: str) -> None:
    """SIGKILL this process if the environment asks for a crash at `name`."""
    if os.environ.get("CALLSYNC_FAILPOINT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
