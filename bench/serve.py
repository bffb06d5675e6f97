"""A simulator process for the benchmarks: every provider, the knobs, and `/__stats`.

    python -m bench.serve --size 20000 --config-out cfg.json [--latency 0.1] [--rate-limit 20]

Writes `{slug: {key: value}}` (the `[sources.<slug>]` values) to `--config-out` once it
listens; `GET /__stats` answers the requests served per provider, `GET /__reset` clears.
"""

from __future__ import annotations

import argparse
import json
import threading
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from simulator import build
from simulator.server import Request, Response


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.serve")
    parser.add_argument("--size", type=int, required=True, help="calls per partition")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--rate-limit", type=float, default=0.0)
    parser.add_argument("--only", default="", help="comma list of providers (default all)")
    parser.add_argument("--config-out", required=True)
    args = parser.parse_args()
    now = datetime.now(UTC).replace(microsecond=0)
    sim = build(seed=args.seed, size=args.size, now=now)
    sim.latency, sim.rate_limit = args.latency, args.rate_limit

    def stats(request: Request, _: dict[str, str]) -> Response:
        return Response(200, dict(Counter(r.provider for r in sim.requests
                                          if r.provider != "bench")))

    def reset(request: Request, _: dict[str, str]) -> Response:
        sim.clear_log()
        return Response(200, {"ok": True})

    sim.route("bench", "GET", "/__stats", stats)
    sim.route("bench", "GET", "/__reset", reset)
    sim.start()
    only = [s for s in args.only.split(",") if s] or list(sim.providers)
    config = {slug: sim.providers[slug].config(sim.url) for slug in only}
    total = {slug: len(sim.providers[slug].all_calls()) for slug in only}
    Path(args.config_out).write_text(json.dumps({"url": sim.url, "sources": config,
                                                 "calls": total}))
    threading.Event().wait()


if __name__ == "__main__":
    main()
