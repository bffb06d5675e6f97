"""`make bench`: callsync against dlt's generic `rest_api` source, same data, same run.

    python -m bench.run [--calls 100000] [--skip-baseline] [--latency 0.1 --rate-limit 20]

Scenarios, each command in a fresh process measured with `/usr/bin/time -v`:
1. first backfill of N calls over all four providers, callsync and baseline;
2. a no-op incremental sync right after (callsync; the baseline has no incremental);
3. the model build at scale: `python -m bench.model_build` (run separately: it takes
   minutes at 10M);
4. latency-bound: every request 100 ms late and a per-provider rate limit; callsync over
   all providers against the slowest single provider alone.
Prints wall seconds, calls/s, peak RSS, requests served and the ratio callsync/baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
PARTITIONS = 6  # Bland's three numbers, SIPSIM, Unpod, jambonz


@dataclass
class Run:
    label: str
    seconds: float
    rss_mb: float
    calls: int
    requests: int
    code: int

    @property
    def per_second(self) -> float:
        return self.calls / self.seconds if self.seconds else 0.0


class Server:
    """`bench.serve` in its own process, so its CPU is not charged to the client's RSS.

    Lazy by default: calls are made per page from the seed, so 1M-10M calls fit.
    """

    def __init__(self, size: int, latency: float = 0.0, rate_limit: float = 0.0,
                 only: str = "", lazy: bool = True) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="callsync-bench-"))
        out = self.dir / "sim.json"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.serve", "--size", str(size), "--config-out",
             str(out), "--latency", str(latency), "--rate-limit", str(rate_limit),
             "--only", only, *(["--lazy"] if lazy else [])], cwd=ROOT)
        while not out.exists():
            if self.process.poll() is not None:
                raise RuntimeError("the simulator did not start")
            time.sleep(0.2)
        self.info: dict[str, Any] = json.loads(out.read_text())

    @property
    def calls(self) -> int:
        return sum(self.info["calls"].values())

    def requests(self) -> int:
        return sum(httpx.get(self.info["url"] + "/__stats").json().values())

    def reset(self) -> None:
        httpx.get(self.info["url"] + "/__reset")

    def extend(self, n: int) -> int:
        """Add `n` newer calls to every partition; the calls a full sync now loads."""
        counts = httpx.get(self.info["url"] + "/__extend", params={"n": n}).json()
        self.info["calls"] = counts
        return self.calls

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()


def measure(label: str, argv: list[str], env: dict[str, str], server: Server,
            calls: int) -> Run:
    server.reset()
    began = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-v", *argv], env=env, cwd=server.dir,
                          capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - began
    found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    rss = int(found.group(1)) / 1024 if found else 0.0
    if done.returncode:
        (server.dir / "failed.log").write_text(done.stdout + done.stderr)
        errors = [line for line in done.stderr.splitlines() if "Error" in line or "error" in line]
        print(f"  ! {label} exited {done.returncode} (log: {server.dir / 'failed.log'}): "
              f"{errors[-1][:300] if errors else ''}")
    return Run(label, seconds, rss, calls, server.requests(), done.returncode)


def callsync_env(server: Server, warehouse: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DEST"))}
    env["DESTINATION__DUCKDB__CREDENTIALS"] = str(warehouse)
    for slug, config in server.info["sources"].items():
        for key, value in config.items():
            name = f"SOURCES__{slug.upper()}__{key.upper()}"
            env[name] = json.dumps(value) if isinstance(value, list) else str(value)
        env[f"SOURCES__{slug.upper()}__START_DATE"] = "2000-01-01"
    env["SOURCES__BLAND__PAGE_SIZE"] = "1000"
    env["SOURCES__SIPSIM__PAGE_SIZE"] = "1000"
    env["SOURCES__JAMBONZ__PAGE_SIZE"] = "500"
    return env


def report(runs: list[Run], baseline: Run | None = None) -> None:
    for run in runs:
        ratio = f"{baseline.seconds / run.seconds:6.1f}x faster" if baseline and \
            run is not baseline and run.seconds else ""
        print(f"  {run.label:44s} {run.seconds:8.2f} s {run.per_second:10,.0f} calls/s "
              f"{run.rss_mb:8.0f} MiB {run.requests:7d} req  {ratio}")


def backfill(calls: int, skip_baseline: bool) -> None:
    size = max(1, calls // PARTITIONS)
    server = Server(size)
    try:
        total = server.calls
        print(f"\n1-2. first backfill and no-op sync: {total:,} calls, 4 providers")
        env = callsync_env(server, server.dir / "callsync.duckdb")
        cmd = [sys.executable, "-m", "pipelines", "sync"]
        first = measure("callsync sync (first backfill)", cmd, env, server, total)
        noop = measure("callsync sync (no-op, nothing new)", cmd, env, server, total)
        runs = [first, noop]
        base = None
        if not skip_baseline:
            benv = dict(env, BENCH_SIM=json.dumps(server.info),
                        DESTINATION__DUCKDB__CREDENTIALS=str(server.dir / "rest_api.duckdb"))
            base = measure("dlt rest_api, obvious config (first load)",
                           [sys.executable, "-m", "bench.baseline"], benv, server, total)
            runs.append(base)
        report(runs, base)
    finally:
        server.stop()


def latency_bound(calls: int, latency: float, rate_limit: float) -> None:
    size = max(1, calls // PARTITIONS)
    print(f"\n4. latency-bound: {latency * 1000:.0f} ms per request, {rate_limit:g} req/s "
          "per provider")
    runs = []
    for only in ("", "bland", "sipsim", "unpod", "jambonz"):
        server = Server(size, latency, rate_limit, only)
        try:
            env = callsync_env(server, server.dir / "callsync.duckdb")  # `only` ones
            label = f"callsync sync, {only or 'all four providers'}"
            runs.append(measure(label, [sys.executable, "-m", "pipelines", "sync"], env,
                                server, server.calls))
        finally:
            server.stop()
    report(runs)
    slowest = max(runs[1:], key=lambda r: r.seconds)
    print(f"  all four / slowest single ({slowest.label}): "
          f"{runs[0].seconds / slowest.seconds:.2f}x (target <= 1.3x)")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.run")
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--rate-limit", type=float, default=20)
    parser.add_argument("--latency-calls", type=int, default=30_000)
    args = parser.parse_args()
    print(f"callsync benchmark, {os.cpu_count()} cores")
    backfill(args.calls, args.skip_baseline)
    latency_bound(args.latency_calls, args.latency, args.rate_limit)
    print("\n3. model build at scale: python -m bench.model_build --calls 10000000")


if __name__ == "__main__":
    main()
