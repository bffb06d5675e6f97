"""Run the simulator standalone: `python -m simulator [--port N] [--size N] [--seed N]
[--lazy]`."""

from __future__ import annotations

import argparse
import logging
import threading
from datetime import UTC, datetime

from simulator import build

log = logging.getLogger("simulator")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m simulator", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free)")
    parser.add_argument("--size", type=int, default=200, help="calls per partition")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--lazy", action="store_true",
                        help="make calls on demand from the seed (any size, flat memory)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    now = datetime.now(UTC).replace(microsecond=0)
    sim = build(seed=args.seed, size=args.size, now=now, lazy=args.lazy).start(args.port)
    log.info("simulator on %s (Ctrl-C to stop)", sim.url)
    for slug, provider in sim.providers.items():
        log.info("  %s: %s", slug, provider.describe(sim.url))
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        sim.stop()


if __name__ == "__main__":
    main()
