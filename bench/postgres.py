"""PostgreSQL against DuckDB: the same backfill, no-op and small sync on each engine.

    python -m bench.postgres [--calls 100000] [--new 1000]

Serves N calls with `bench.run`'s lazy simulators, starts a throwaway PostgreSQL server
(Debian's binaries, initdb + pg_ctl in a temp dir on 127.0.0.1, stopped by PID; the
tests' harness), then runs `callsync sync` three times per engine in a fresh process
under `/usr/bin/time -v`: the first backfill, a no-op sync, and a sync after `--new`
calls were added. Prints wall seconds, the model build's seconds, peak RSS and requests.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from bench.run import PARTITIONS, Run, Server, callsync_env, measure, report
from tests.engines.postgres import started


def engine_runs(server: Server, env: dict[str, str], label: str, new: int) -> list[Run]:
    """Backfill, no-op and small sync of one engine; the simulator is reset after."""
    cmd = [sys.executable, "-m", "pipelines", "sync"]
    total = server.calls
    first = measure(f"{label}: first backfill", cmd, env, server, total)
    noop = measure(f"{label}: no-op sync", cmd, env, server, 0)
    added = server.extend(max(1, new // PARTITIONS)) - total
    small = measure(f"{label}: {added:,} new calls", cmd, env, server, added)
    return [first, noop, small]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--new", type=int, default=1000)
    args = parser.parse_args()
    database = started()
    try:
        runs = []
        for engine in ("duckdb", "postgres"):  # each on a fresh simulator of N calls
            server = Server(max(1, args.calls // PARTITIONS))
            try:
                env = callsync_env(server, server.dir / "callsync.duckdb")
                if engine == "postgres":
                    env["CALLSYNC__DESTINATION"] = "postgres"
                    env["DESTINATION__POSTGRES__CREDENTIALS"] = database.dsn()
                print(f"{engine}: N = {server.calls:,} calls", flush=True)
                runs += engine_runs(server, env, engine, args.new)
            finally:
                server.stop()
                shutil.rmtree(Path(server.dir), ignore_errors=True)
        report(runs)
    finally:
        database.stop()
        shutil.rmtree(database.home, ignore_errors=True)


if __name__ == "__main__":
    main()
