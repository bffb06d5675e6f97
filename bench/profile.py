"""Where the CPU goes in one backfill: `py-spy` samples of `callsync sync`, by thread.

    python -m bench.profile [--calls 1000000] [--only sipsim|all]

One backfill on an empty warehouse runs under `py-spy record` (100 samples a second,
every thread, Python frames); each sample is charged to its thread's role and to the
innermost frame of callsync's own code (else the innermost frame). Samples whose thread
waits (a lock, a queue, a socket read: the server's bytes) are left out. The simulator's CPU
time (its processes, from /proc) is printed beside it: on a 2-core machine the fake and
callsync share the cores.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

from bench.run import Server
from bench.table import SYNC, size_for, sync_env

ROOT = Path(__file__).resolve().parent.parent
RATE = 100  # samples a second
ROLES = [  # thread name prefix -> what the thread does in a sync
    ("MainThread", "main (start-up, model build, readers' copy)"),
    ("page-parser", "page parser (DuckDB, off the GIL)"),
    ("page-head", "page head (DuckDB, off the GIL)"),
    ("walk", "page fetch (HTTP)"),
    ("ThreadPoolExecutor", "provider (dlt extract, normalize)"),
    ("dlt-pool", "dlt load (DuckDB)"),
    ("progress", "progress line"),
]
OURS = re.compile(r"\((?:sources|pipelines|transforms)/")
# a leaf frame where the thread waits (for a lock, a queue, the server's bytes), not works
IDLE = re.compile(r"^(\w+\.)?(wait|_wait_for_tstate_lock|get|_worker|select|poll|read|"
                  r"is_socket_readable) \((threading|queue|concurrent/futures/thread|selectors|"
                  r"httpcore/_backends/sync|httpcore/_utils)\.py")


def role(thread: str) -> str:
    """`thread (123): walk_0` -> the role of a `walk` thread."""
    name = thread.split(": ", 1)[-1]
    return next((what for prefix, what in ROLES if name.startswith(prefix)), name)


def where(frames: list[str]) -> str:
    """The innermost frame of callsync's code (else the innermost), without line; a
    module being imported is `(imports)`."""
    if any(f.startswith("_find_and_load ") for f in frames):
        return "(imports)"
    ours = [f for f in frames if OURS.search(f)]
    frame = (ours or frames)[-1]
    return re.sub(r":\d+\)$", ")", frame)


def samples(raw: str) -> tuple[Counter[str], Counter[tuple[str, str]]]:
    """py-spy's raw output (`thread;frame;...;frame count` lines, outermost first) as
    samples per role and per (role, frame); idle waits dropped."""
    roles: Counter[str] = Counter()
    frames: Counter[tuple[str, str]] = Counter()
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        thread, *rest = stack.split(";")
        if not rest or IDLE.match(rest[-1]):
            continue
        kind = role(thread)
        roles[kind] += int(count)
        frames[(kind, where(rest))] += int(count)
    return roles, frames


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one live process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def profile(only: str, calls: int, top: int = 12) -> str:
    """The markdown of one profiled backfill of `calls` (SIPSIM alone, or all four)."""
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if spy is None:
        return "No profile: py-spy is not installed (`make setup` installs it)."
    server = Server(size_for(only, calls), only=only)
    out = server.dir / "profile.txt"
    try:
        env = sync_env(server, server.dir / "profiled.duckdb")
        server.reset()
        before = sum(cpu_seconds(p.pid) for p in server.processes)
        run = subprocess.run(
            [spy, "record", "--rate", str(RATE), "--format", "raw", "--threads",
             "--output", str(out), "--", *SYNC], env=env, cwd=server.dir,
            capture_output=True, text=True)
        fake = sum(cpu_seconds(p.pid) for p in server.processes) - before
        if run.returncode != 0 or not out.exists():
            why = (run.stderr.strip().splitlines() or ["no output"])[-1]
            return f"No profile: py-spy could not sample the sync ({why})."
        roles, frames = samples(out.read_text())
    finally:
        server.stop()
    total = sum(roles.values()) / RATE
    lines = [f"callsync's threads were busy {total:.1f} CPU-s in all (py-spy, {RATE} "
             f"samples/s; the simulator's processes used {fake:.1f} CPU-s beside):", "",
             "| thread | CPU s |", "|---|---|"]
    lines += [f"| {kind} | {n / RATE:.2f} |" for kind, n in roles.most_common()]
    lines += ["", f"The {top} places most of it went (the innermost frame of callsync's "
              "code, else the innermost):", "", "| thread | where | CPU s | share |",
              "|---|---|---|---|"]
    lines += [f"| {kind} | `{frame}` | {n / RATE:.2f} | {n / RATE / total:.0%} |"
              for (kind, frame), n in frames.most_common(top)] if total else []
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--only", choices=["sipsim", "all"], default="sipsim")
    args = parser.parse_args()
    print(profile("" if args.only == "all" else args.only, args.calls))


if __name__ == "__main__":
    main()
