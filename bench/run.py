"""`make bench`: callsync against the limit and dlt's generic `rest_api` source, same run.

    python -m bench.run [--calls 100000,1000000] [--baseline-max 200000]
                        [--latency 0.1 --rate-limit 20 --latency-calls 30000]

For each N (calls over all four providers, six partitions), one lazy simulator process
per provider (`bench.serve --lazy`: calls made per page, so memory stays flat in N) serves,
and each command runs in a fresh process under `/usr/bin/time -v`:
- the limit (`bench.limit`: fetch and parse every page, nothing else);
- 1. callsync's first backfill;
- 2. a no-op incremental sync right after;
- 3. a small incremental sync after `--new` calls were added (its model build timed apart;
     `python -m bench.model_build --calls 10000000` does the 10M warehouse);
- dlt `rest_api`, configured the obvious way, when N <= `--baseline-max` (it needs ~9 GB
  at 200k: a larger N would exhaust the machine).
4. latency-bound: every request 100 ms late and a per-provider rate limit; callsync over
   all providers against the slowest single provider alone.
Prints wall seconds, calls/s, peak RSS, requests served and the ratios.
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
    build_seconds: float | None = None

    @property
    def per_second(self) -> float:
        return self.calls / self.seconds if self.seconds else 0.0


PROVIDERS = ("bland", "sipsim", "unpod", "jambonz")


class Server:
    """The simulator: one `bench.serve` process per provider, as each provider is its own
    API (one Python process for all four made them queue on its one GIL), none of them
    charged to the client's RSS.

    Lazy by default: calls are made per page from the seed, so 1M-10M calls fit.
    """

    def __init__(self, size: int, latency: float = 0.0, rate_limit: float = 0.0,
                 only: str = "", lazy: bool = True) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="callsync-bench-"))
        self.processes, self.urls = [], []
        self.info: dict[str, Any] = {"sources": {}, "calls": {}}
        for slug in [only] if only else PROVIDERS:
            out = self.dir / f"sim-{slug}.json"
            process = subprocess.Popen(
                [sys.executable, "-m", "bench.serve", "--size", str(size), "--config-out",
                 str(out), "--latency", str(latency), "--rate-limit", str(rate_limit),
                 "--only", slug, *(["--lazy"] if lazy else [])], cwd=ROOT)
            self.processes.append(process)
            while not out.exists():
                if process.poll() is not None:
                    self.stop()
                    raise RuntimeError(f"the {slug} simulator did not start")
                time.sleep(0.2)
            info = json.loads(out.read_text())
            self.urls.append(info["url"])
            self.info["sources"].update(info["sources"])
            self.info["calls"].update(info["calls"])

    @property
    def calls(self) -> int:
        return sum(self.info["calls"].values())

    def requests(self) -> int:
        return sum(sum(httpx.get(url + "/__stats").json().values()) for url in self.urls)

    def reset(self) -> None:
        for url in self.urls:
            httpx.get(url + "/__reset")

    def extend(self, n: int) -> int:
        """Add `n` newer calls to every partition; the calls a full sync now loads."""
        for url in self.urls:
            self.info["calls"].update(httpx.get(url + "/__extend", params={"n": n}).json())
        return self.calls

    def stop(self) -> None:
        for process in self.processes:
            process.kill()
            process.wait()


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
    built = re.search(r"models built in ([0-9.]+) s", done.stdout + done.stderr)
    return Run(label, seconds, rss, calls, server.requests(), done.returncode,
               float(built.group(1)) if built else None)


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


def report(runs: list[Run], baseline: Run | None = None, limit: Run | None = None) -> None:
    for run in runs:
        notes = []
        if run.build_seconds is not None:
            notes.append(f"model build {run.build_seconds:.1f} s")
        if baseline and run is not baseline and run.seconds and run.calls == baseline.calls:
            notes.append(f"{baseline.seconds / run.seconds:.1f}x faster than rest_api")
        if limit and run is not limit and limit.seconds and run.calls == limit.calls:
            notes.append(f"{run.seconds / limit.seconds:.1f}x the limit's time")
        print(f"  {run.label:40s} {run.seconds:8.2f} s {run.per_second:10,.0f} calls/s "
              f"{run.rss_mb:8.0f} MiB {run.requests:7d} req  {'; '.join(notes)}")


def backfill(calls: int, new: int, baseline_max: int) -> None:
    size = max(1, calls // PARTITIONS)
    server = Server(size)
    try:
        total = server.calls
        print(f"\n1-3. N = {total:,} calls, 4 providers (6 partitions)")
        env = callsync_env(server, server.dir / "callsync.duckdb")
        sim = json.dumps(server.info)
        limit = measure("limit: fetch + parse only", [sys.executable, "-m", "bench.limit"],
                        dict(env, BENCH_SIM=sim), server, total)
        cmd = [sys.executable, "-m", "pipelines", "sync"]
        first = measure("callsync sync, first backfill", cmd, env, server, total)
        noop = measure("callsync sync, no-op (nothing new)", cmd, env, server, 0)
        added = server.extend(max(1, new // PARTITIONS)) - total
        small = measure(f"callsync sync, {added:,} new calls", cmd, env, server, added)
        runs = [limit, first, noop, small]
        base = None
        if calls <= baseline_max:
            benv = dict(env, BENCH_SIM=sim,
                        DESTINATION__DUCKDB__CREDENTIALS=str(server.dir / "rest_api.duckdb"))
            base = measure("dlt rest_api, obvious config (first load)",
                           [sys.executable, "-m", "bench.baseline"], benv, server,
                           server.calls)
            runs.append(base)
        else:
            print(f"  (dlt rest_api skipped above --baseline-max {baseline_max:,}: ~9 GB "
                  "of RAM at 200k calls)")
        report(runs, base, limit)
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
            for slug in server.info["sources"]:  # the plan's limit, as a user configures it
                env[f"SOURCES__{slug.upper()}__REQUESTS_PER_SECOND"] = str(rate_limit)
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
    parser.add_argument("--calls", default="100000,1000000",
                        help="comma list of N (calls over all providers)")
    parser.add_argument("--new", type=int, default=1000, help="calls of the small sync")
    parser.add_argument("--baseline-max", type=int, default=200_000)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--rate-limit", type=float, default=20)
    parser.add_argument("--latency-calls", type=int, default=30_000)
    args = parser.parse_args()
    print(f"callsync benchmark, {os.cpu_count()} cores")
    for calls in (int(n) for n in args.calls.split(",") if n.strip()):
        backfill(calls, args.new, args.baseline_max)
    if args.latency_calls:
        latency_bound(args.latency_calls, args.latency, args.rate_limit)
    print("\n3. model build at scale: python -m bench.model_build --calls 10000000")


if __name__ == "__main__":
    main()
