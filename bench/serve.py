"""A simulator process for the benchmarks: every provider, the knobs, and `/__stats`.

    python -m bench.serve --size 20000 --config-out cfg.json [--latency 0.1] [--rate-limit 20]
        [--lazy]

Writes `{"url", "sources": {slug: {key: value}}, "calls": {slug: n}}` (the
`[sources.<slug>]` values, and the calls a full sync loads) to `--config-out` once it
listens; `GET /__stats` answers the requests served per provider, `GET /__reset` clears,
`GET /__extend?n=1000` adds n newer calls to every partition and answers the new counts.
`--lazy` makes calls on demand instead of holding them (memory flat in `--size`; the
clock starts a day back so that calls added later are not in the future).
"""

from __future__ import annotations

import argparse
import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from simulator import build
from simulator.server import Request, Response, query_int


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.serve")
    parser.add_argument("--size", type=int, required=True, help="calls per partition")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--rate-limit", type=float, default=0.0)
    parser.add_argument("--only", default="", help="comma list of providers (default all)")
    parser.add_argument("--config-out", required=True)
    parser.add_argument("--lazy", action="store_true",
                        help="make calls on demand (1M-10M calls in flat memory)")
    args = parser.parse_args()
    now = datetime.now(UTC).replace(microsecond=0)
    if args.lazy:
        now -= timedelta(days=1)  # room for `/__extend` calls before the wall clock
    sim = build(seed=args.seed, size=args.size, now=now, lazy=args.lazy)
    only = [s for s in args.only.split(",") if s] or list(sim.providers)
    sim.latency, sim.rate_limit = args.latency, args.rate_limit
    if "jambonz" in sim.providers:
        # its own bucket (600 requests per 300 s) would make one 1M run of the limit plus
        # callsync wait out 429s: the benchmark measures throughput, and scenario 4 sets
        # one rate limit for every provider (`--rate-limit`)
        sim.providers["jambonz"].rate_limit = 10**9
    sim.keep_requests = False  # counts only: the log would grow with every page served

    def stats(request: Request, _: dict[str, str]) -> Response:
        return Response(200, {slug: n for slug, n in sim.served.items() if slug != "bench"})

    def reset(request: Request, _: dict[str, str]) -> Response:
        sim.clear_log()
        return Response(200, {"ok": True})

    def extend(request: Request, _: dict[str, str]) -> Response:
        n = query_int(request, "n", 1000)
        if n is None or n < 0:
            return Response(400, {"error": "n must be a whole number"})
        for slug in only:
            sim.providers[slug].extend(n)
        return Response(200, {slug: sim.providers[slug].count() for slug in only})

    sim.route("bench", "GET", "/__stats", stats)
    sim.route("bench", "GET", "/__reset", reset)
    sim.route("bench", "GET", "/__extend", extend)
    sim.start()
    config = {slug: sim.providers[slug].config(sim.url) for slug in only}
    total = {slug: sim.providers[slug].count() for slug in only}
    Path(args.config_out).write_text(json.dumps({"url": sim.url, "sources": config,
                                                 "calls": total}))
    threading.Event().wait()


if __name__ == "__main__":
    main()
