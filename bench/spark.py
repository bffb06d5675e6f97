"""DuckDB against filesystem + Spark: the first backfill and a small incremental sync.

    python -m bench.spark [--calls 100000] [--new 1000] [--master local[2]]

The simulator of `bench.run` (one lazy process per provider) serves N calls; each sync runs
in a fresh process under `/usr/bin/time -v`, first into DuckDB, then with
`destination = "filesystem"` into a file:// bucket and the models on Spark. Prints wall
seconds, the model build's share, calls/s and peak RSS (of the Python process; Spark's
local JVM is a child and not counted by `time -v`'s maximum).
"""

from __future__ import annotations

import argparse
import sys

from bench.run import PARTITIONS, Server, callsync_env, measure, report


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.spark")
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--new", type=int, default=1000, help="calls of the small sync")
    parser.add_argument("--master", default="local[2]")
    args = parser.parse_args()
    cmd = [sys.executable, "-m", "pipelines", "sync"]
    for engine in ("duckdb", "filesystem"):
        server = Server(max(1, args.calls // PARTITIONS))
        try:
            env = callsync_env(server, server.dir / "callsync.duckdb")
            if engine == "filesystem":
                env.update(CALLSYNC__DESTINATION="filesystem", CALLSYNC__SPARK_MASTER=args.master,
                           DESTINATION__FILESYSTEM__BUCKET_URL=(server.dir / "bucket").as_uri())
            total = server.calls
            print(f"\n{engine}{' + Spark ' + args.master if engine != 'duckdb' else ''}: "
                  f"N = {total:,} calls")
            first = measure(f"{engine}: first backfill", cmd, env, server, total)
            added = server.extend(max(1, args.new // PARTITIONS)) - total
            small = measure(f"{engine}: sync, {added:,} new calls", cmd, env, server, added)
            report([first, small])
        finally:
            server.stop()


if __name__ == "__main__":
    main()
