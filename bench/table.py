"""`make bench`: issue 14's table, each row beside its target, then the limit and where
the time goes.

    python -m bench.table [--calls 1000000] [--small 200000] [--runs 3]
                          [--latency 1.0 --latency-calls 6000] [--baseline-calls 200000]

For SIPSIM alone (N calls in one account) and for all four providers (N calls over six
partitions), against lazy simulators (`bench.serve`, one process per provider):

- first backfill, the whole `callsync sync` command: calls/s, median of `--runs` fresh
  warehouses, with min-max;
- peak RSS of the command's process tree (its own `wait4` maximum, and the tree sampled
  every 50 ms), median, and its ratio from `--small` calls to N;
- no-op sync right after each backfill: seconds (median) and requests served;
- (all four) every request `--latency` s late: all four providers against the slowest
  alone;
- dlt's `rest_api` source with the obvious config (`bench.baseline`) at
  `--baseline-calls`, against callsync's median backfill of as many calls;

then the limit (the fake drained in process, no HTTP; every page fetched and parsed by
callsync's clients, `bench.limit`; dlt and the models alone, `bench.floor`) and where the
time goes (the median backfill runs with `--debug`: each provider's steps, the model
build).

SIPSIM is configured with its static access token (no OAuth request), as the issue's
"1 request" no-op counts.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.run import PARTITIONS, Server, callsync_env
from simulator import PROVIDERS, build
from simulator.server import Request, Response, Simulator

ROOT = Path(__file__).resolve().parent.parent
SCOPES = {"SIPSIM alone": "sipsim", "all four providers": ""}
MIB = 1024 * 1024
PAGE = os.sysconf("SC_PAGE_SIZE")
# the "this issue" column
TARGET_RATE = 80_000
TARGET_RSS = 400
TARGET_RSS_RATIO = 1.25
TARGET_NOOP = 3.0
TARGET_LATENCY = 1.3


@dataclass
class Measured:
    """One command: wall seconds, peak RSS of its process tree (MiB), exit code, output."""

    seconds: float
    rss: float
    code: int
    output: str
    requests: int = 0


def tree_rss(pid: int) -> int:
    """Resident bytes of `pid` and its descendants now (0 once it is gone)."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            total += int(Path(f"/proc/{current}/statm").read_text().split()[1]) * PAGE
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError, IndexError):
            continue  # it ended between two reads
    return total


def measure(argv: list[str], env: dict[str, str], cwd: Path) -> Measured:
    """Run `argv` to its end: wall time, peak RSS of its tree, exit code and output."""
    log = cwd / "command.log"
    peak = [0]
    done = threading.Event()
    with log.open("w") as out:
        began = time.perf_counter()
        process = subprocess.Popen(argv, env=env, cwd=cwd, stdout=out,
                                   stderr=subprocess.STDOUT)

        def sample() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], tree_rss(process.pid))
                done.wait(0.05)  # a sampling rate: the exact peak of the top process is
                # wait4's below; the tree's is the largest sample

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - began
        done.set()
        sampler.join()
        process.returncode = os.waitstatus_to_exitcode(status)
    rss = max(usage.ru_maxrss * 1024, peak[0]) / MIB  # ru_maxrss: KiB on Linux
    return Measured(seconds, rss, process.returncode, log.read_text())


def sync_env(server: Server, warehouse: Path) -> dict[str, str]:
    """callsync's environment for `server`: SIPSIM with its static token."""
    env = callsync_env(server, warehouse)
    if "sipsim" in server.info["sources"]:
        for key in ("CLIENT_ID", "CLIENT_SECRET", "TOKEN_URL"):
            env.pop(f"SOURCES__SIPSIM__{key}", None)
        env["SOURCES__SIPSIM__ACCESS_TOKEN"] = PROVIDERS["sipsim"].access_token
    env.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    env["PYTHONPATH"] = str(ROOT)  # `-m bench.*` from the run's own folder
    return env


def size_for(only: str, calls: int) -> int:
    """Calls per partition for `calls` over the scope's partitions."""
    return max(1, calls if only else calls // PARTITIONS)


@dataclass
class Backfills:
    """`runs` first backfills and the no-op after each, of one scope at one size."""

    calls: int
    first: list[Measured] = field(default_factory=list)
    noop: list[Measured] = field(default_factory=list)

    def rates(self) -> list[float]:
        return [self.calls / m.seconds for m in self.first]


SYNC = [sys.executable, "-m", "pipelines", "sync"]
# `--debug` adds only callsync's step timings to the output (where the time goes)
DEBUG_SYNC = [sys.executable, "-m", "pipelines", "--debug", "sync"]


def backfills(only: str, calls: int, runs: int) -> Backfills:
    server = Server(size_for(only, calls), only=only)
    try:
        found = Backfills(server.calls)
        for run in range(runs):
            folder = server.dir / f"run{run}"
            folder.mkdir()
            env = sync_env(server, folder / "callsync.duckdb")
            server.reset()
            found.first.append(_checked(measure(DEBUG_SYNC, env, folder), "backfill"))
            server.reset()
            noop = _checked(measure(SYNC, env, folder), "no-op sync")
            noop.requests = server.requests()
            found.noop.append(noop)
        return found
    finally:
        server.stop()


def _checked(run: Measured, what: str) -> Measured:
    if run.code:
        tail = run.output.strip().splitlines()[-3:]
        raise SystemExit(f"bench: the {what} exited {run.code}: {' / '.join(tail)}")
    return run


def baseline(only: str, calls: int) -> tuple[Measured, int]:
    """dlt `rest_api` with the obvious config, one run; and the calls it was given."""
    server = Server(size_for(only, calls), only=only)
    try:
        env = dict(sync_env(server, server.dir / "rest_api.duckdb"),
                   BENCH_SIM=json.dumps(server.info))
        return _checked(measure([sys.executable, "-m", "bench.baseline"], env, server.dir),
                        "rest_api baseline"), server.calls
    finally:
        server.stop()


def latency(calls: int, seconds: float) -> tuple[Measured, list[tuple[str, Measured]]]:
    """All four providers, every request `seconds` late, and each provider alone."""
    found: list[tuple[str, Measured]] = []
    for only in ("", *PROVIDERS):
        # each alone serves the partitions it has in the all-four run
        server = Server(max(1, calls // PARTITIONS), latency=seconds, only=only)
        try:
            env = sync_env(server, server.dir / "callsync.duckdb")
            found.append((only, _checked(measure(SYNC, env, server.dir), "latency sync")))
        finally:
            server.stop()
    return found[0][1], found[1:]


def limit(only: str, calls: int) -> tuple[float, float, int]:
    """(seconds to drain the fake in process, seconds to fetch + parse every page over
    HTTP with callsync's clients, calls)."""
    size = size_for(only, calls)
    drained, total = drain(only, size)
    server = Server(size, only=only)
    try:
        env = dict(sync_env(server, server.dir / "unused.duckdb"),
                   BENCH_SIM=json.dumps(server.info))
        fetched = _checked(measure([sys.executable, "-m", "bench.limit"], env, server.dir),
                           "limit")
    finally:
        server.stop()
    return drained, fetched.seconds, total


def drain(only: str, size: int) -> tuple[float, int]:
    """Every page of the lazy fakes built and encoded in this process (no HTTP, no
    parse): what the fake alone costs. Seconds and calls served."""
    now = datetime.now(UTC).replace(microsecond=0)
    sim = build(seed=7, size=size, now=now, lazy=True)
    began = time.perf_counter()
    served = 0
    for slug in [only] if only else list(PROVIDERS):
        for page in _pages(sim, slug):
            served += page
    return time.perf_counter() - began, served


def _ask(sim: Simulator, path: str, query: dict[str, Any], headers: dict[str, str],
         ) -> Any:
    request = Request("GET", path, {k: str(v) for k, v in query.items()},
                      {k.lower(): v for k, v in headers.items()})
    found = sim._match("GET", path)
    assert found is not None, path
    route, params = found
    response: Response = route.handler(request, params)
    response.encode()  # the bytes a client would get
    return response.body


def _pages(sim: Simulator, slug: str) -> Iterator[int]:
    """Calls per page of one provider's whole walk, as callsync asks for them."""
    fake = sim.providers[slug]
    if slug == "bland":
        for number in fake.phone_numbers:
            query: dict[str, Any] = {"phone_number": number, "limit": 1000}
            while True:
                calls = _ask(sim, "/v1/sip/calls", query,
                             {"authorization": fake.api_key})["data"]["calls"]
                yield len(calls)
                if len(calls) < 1000:
                    break
                query["before"] = calls[-1]["call_id"]
    elif slug == "sipsim":
        query = {"start_time": "2000-01-01T00:00:00Z", "limit": 1000}
        while True:
            body = _ask(sim, "/api/v2/calls", query,
                        {"authorization": f"Bearer {fake.access_token}"})
            yield len(body["data"])
            if not body["pagination"]["has_more"]:
                break
            query["page"] = body["pagination"]["page"]
    elif slug == "unpod":
        headers = {"authorization": f"Token {fake.api_token}", "org-handle": fake.org_handle}
        page = 1
        while True:
            body = _ask(sim, "/api/v2/platform/call-logs/", {"page": page, "page_size": 100},
                        headers)
            yield len(body["data"])
            if page * 100 >= body["count"]:
                break
            page += 1
    else:
        path = f"/v1/Accounts/{fake.account_sid}/RecentCalls"
        page = 1
        while True:
            body = _ask(sim, path, {"page": page, "count": 500},
                        {"authorization": f"Bearer {fake.api_key}"})
            yield len(body["data"])
            if page * 500 >= body["total"]:
                break
            page += 1


def floor(calls: int) -> str:
    """`bench.floor`'s last line (dlt + models alone on `calls` Arrow rows)."""
    folder = Path(tempfile.mkdtemp(prefix="callsync-floor-"))
    run = _checked(measure([sys.executable, "-m", "bench.floor", "--calls", str(calls)],
                           dict(os.environ, PYTHONPATH=str(ROOT)), folder), "floor")
    return " ".join(run.output.strip().splitlines()[-1].split())


PHASE = re.compile(r"(\w+): (state restored from the warehouse|extracted|normalized|loaded)"
                   r" in ([0-9.]+) s")


def phases(run: Measured) -> tuple[dict[str, dict[str, float]], float]:
    """A `--debug` sync's seconds per provider and phase, and the model build's."""
    found: dict[str, dict[str, float]] = {}
    for slug, phase, seconds in PHASE.findall(run.output):
        found.setdefault(slug, {})[phase.split()[0]] = float(seconds)
    built = re.search(r"models built in ([0-9.]+) s", run.output)
    return found, float(built.group(1)) if built else 0.0


# -- the table ----------------------------------------------------------------------------
def spread(values: list[float], fmt: Callable[[float], str]) -> str:
    """The median, and min-max when there are several."""
    text = fmt(statistics.median(values))
    return text if len(values) < 2 else f"{text} ({fmt(min(values))}-{fmt(max(values))})"


def rate(value: float) -> str:
    return f"{value / 1000:,.1f}k" if value >= 1000 else f"{value:,.0f}"


def verdict(ok: bool) -> str:
    return "met" if ok else "**not met**"


def row(name: str, measured: str, target: str, ok: bool) -> None:
    print(f"| {name} | {measured} | {target} | {verdict(ok)} |")


def scope_table(label: str, only: str, args: argparse.Namespace) -> None:
    big = backfills(only, args.calls, args.runs)
    small = backfills(only, args.small, args.runs) if args.small else None
    print(f"\n### {label}: N = {big.calls:,} calls, {args.runs} run(s)\n")
    print("| | measured | target (issue 14) | |")
    print("|---|---|---|---|")
    rates = big.rates()
    seconds = [m.seconds for m in big.first]
    row("first backfill, whole command",
        f"{spread(rates, rate)} calls/s, {spread(seconds, lambda s: f'{s:.2f}')} s",
        f">= {rate(TARGET_RATE)} calls/s", statistics.median(rates) >= TARGET_RATE)
    peak = statistics.median(m.rss for m in big.first)
    text = f"{spread([m.rss for m in big.first], lambda r: f'{r:.0f}')} MiB"
    ok = peak <= TARGET_RSS
    if small is not None:
        low = statistics.median(m.rss for m in small.first)
        ratio = peak / low if low else 0.0
        text += f" ({low:.0f} at {small.calls:,}: {ratio:.2f}x)"
        ok = ok and ratio <= TARGET_RSS_RATIO
    row("peak RSS, process tree", text,
        f"<= {TARGET_RSS} MiB, <= {TARGET_RSS_RATIO}x from {args.small:,} to N", ok)
    noop = [m.seconds for m in big.noop]
    requests = sorted({m.requests for m in big.noop})
    want = "1 request" if only == "sipsim" else "the fewest requests each API allows"
    row("no-op sync", f"{spread(noop, lambda s: f'{s:.2f}')} s, "
        f"{'/'.join(map(str, requests))} request(s)", f"<= {TARGET_NOOP:g} s, {want}",
        statistics.median(noop) <= TARGET_NOOP and (only != "sipsim" or requests == [1]))
    if not only and args.latency_calls:
        together, alone = latency(args.latency_calls, args.latency)
        slug, slowest = max(alone, key=lambda pair: pair[1].seconds)
        ratio = together.seconds / slowest.seconds
        row(f"all four providers, {args.latency:g} s API latency",
            f"{ratio:.2f}x the slowest alone ({together.seconds:.2f} s against {slug} "
            f"{slowest.seconds:.2f} s)", f"<= {TARGET_LATENCY}x", ratio <= TARGET_LATENCY)
    if args.baseline_calls:
        base, calls = baseline(only, args.baseline_calls)
        ours = next((b for b in (big, small) if b is not None and b.calls == calls), None)
        ours = ours or backfills(only, args.baseline_calls, args.runs)
        ours_s = statistics.median(m.seconds for m in ours.first)
        ours_rss = statistics.median(m.rss for m in ours.first)
        faster, leaner = base.seconds / ours_s, base.rss / ours_rss
        row(f"vs dlt `rest_api` defaults at {calls:,}",
            f"{faster:.1f}x faster, {leaner:.1f}x less memory (rest_api {base.seconds:.1f} s, "
            f"{base.rss:,.0f} MiB)", "keep the lead", faster > 1 and leaner > 1)
    drained, fetched, total = limit(only, args.calls)
    print(f"\nThe limit, {total:,} calls: the fake drained in process (pages built and "
          f"encoded, no HTTP) {drained:.2f} s = {rate(total / drained)} calls/s; every page "
          f"fetched over HTTP and parsed by callsync's clients {fetched:.2f} s = "
          f"{rate(total / fetched)} calls/s.")
    run = sorted(big.first, key=lambda m: m.seconds)[len(big.first) // 2]
    found, build_s = phases(run)
    print(f"\nWhere the time goes (the median backfill above, `callsync --debug sync`, "
          f"{run.seconds:.2f} s wall; each provider's steps run in its own thread, side by "
          "side):\n")
    print("| provider | state restore s | extract s | normalize s | load s |")
    print("|---|---|---|---|---|")
    for slug, steps in found.items():
        cells = [f"{steps.get(p, 0.0):.2f}" for p in ("state", "extracted", "normalized",
                                                       "loaded")]
        print(f"| {slug} | {' | '.join(cells)} |")
    longest = max((sum(steps.values()) for steps in found.values()), default=0.0)
    print(f"\nThen the model build: {build_s:.2f} s; the rest (start-up, imports, waits, "
          f"the readers' copy): {max(0.0, run.seconds - build_s - longest):.2f} s.")
    print(f"\nThe profile, one more backfill of {big.calls:,} calls under py-spy "
          f"(`python -m bench.profile`):\n")
    from bench.profile import profile  # bench.profile runs its sync as this module does

    print(profile(only, args.calls))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.table", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=1_000_000, help="N, per scope")
    parser.add_argument("--small", type=int, default=200_000,
                        help="the size the RSS ratio starts from (0: skip)")
    parser.add_argument("--runs", type=int, default=3, help="backfills per size (median)")
    parser.add_argument("--latency", type=float, default=1.0, help="seconds per request")
    parser.add_argument("--latency-calls", type=int, default=6_000,
                        help="calls of the latency row (0: skip)")
    parser.add_argument("--baseline-calls", type=int, default=200_000,
                        help="calls of the rest_api row (0: skip)")
    parser.add_argument("--floor-calls", type=int, default=None,
                        help="calls of bench.floor (default N; 0: skip)")
    parser.add_argument("--only", choices=["sipsim", "all"], default=None,
                        help="one scope (default both)")
    args = parser.parse_args()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"# issue 14's table: {os.cpu_count()} cores, load average {load} at the start")
    for label, only in SCOPES.items():
        if args.only is None or args.only == (only or "all"):
            scope_table(label, only, args)
    calls = args.calls if args.floor_calls is None else args.floor_calls
    if calls:
        print(f"\nThe floor, dlt + models alone (`bench.floor`, {calls:,} Bland-shaped rows "
              f"as Arrow tables, no API): {floor(calls)}")
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\nload average {load} at the end")


if __name__ == "__main__":
    main()
