"""`make chaos`: many syncs under random faults, then the warehouse against ground truth.

Every round changes the simulated accounts (new calls, ringing calls that complete),
injects random faults into the simulators (429 with and without Retry-After, 5xx,
dropped connections, truncated and non-JSON bodies, slow answers) and sometimes kills
the sync (SIGKILL at a random failpoint or mid-extract) or deletes dlt's working folder.
At the end one more sync runs without faults, and its `calls` must equal a clean sync of
the same simulator state into a fresh warehouse: same keys, same values, no duplicate.

    python -m chaos [--rounds 30] [--seed 1] [--size 300]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from pipelines.warehouse import pipelines_dir
from simulator import build
from simulator.server import Request, Simulator

FAULTS: list[dict[str, Any]] = [
    {"status": 429, "headers": {"Retry-After": "0"}}, {"status": 429}, {"status": 500},
    {"status": 502}, {"status": 503}, {"fault": "reset"}, {"fault": "truncate"},
    {"fault": "garbage"}, {"fault": "slow", "delay": 2.5},
]
FAILPOINTS = ["after_extract", "after_normalize", "after_load", "during_build"]


def env_for(sim: Simulator, warehouse: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DESTINATION__"))}
    env["DESTINATION__DUCKDB__CREDENTIALS"] = str(warehouse)
    for slug, provider in sim.providers.items():
        for key, value in provider.config(sim.url).items():
            name = f"SOURCES__{slug.upper()}__{key.upper()}"
            env[name] = json.dumps(value) if isinstance(value, list) else str(value)
        env[f"SOURCES__{slug.upper()}__MAX_ATTEMPTS"] = "8"
        env[f"SOURCES__{slug.upper()}__TIMEOUT_SECONDS"] = "2"
    return env


def run_sync(env: dict[str, str], cwd: Path, sim: Simulator, kill: str | None,
             rng: random.Random) -> int:
    env = dict(env)
    env.pop("CALLSYNC_FAILPOINT", None)
    if kill and kill != "mid_extract":
        env["CALLSYNC_FAILPOINT"] = kill
    process = subprocess.Popen([sys.executable, "-m", "pipelines", "sync"], cwd=cwd, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if kill == "mid_extract":
        after = rng.randint(1, 6)
        seen: list[Request] = []

        def killer(request: Request) -> None:
            seen.append(request)
            if len(seen) == after:
                os.kill(process.pid, signal.SIGKILL)

        sim.on_request = killer
    _, err = process.communicate(timeout=600)
    sim.on_request = None
    if process.returncode not in (0, -signal.SIGKILL):
        print(f"    sync exited {process.returncode}: {err.strip().splitlines()[-1:]}")
    return process.returncode


def mutate(sim: Simulator, rng: random.Random, counts: Counter[str]) -> None:
    for slug, provider in sim.providers.items():
        if hasattr(provider, "add_calls") and rng.random() < 0.7:
            n = rng.randint(1, 40)
            provider.add_calls(n)
            counts[f"{slug}: calls added"] += n
    bland = sim.providers.get("bland")
    if bland is not None and rng.random() < 0.5:
        for log in bland.logs.values():
            ringing = [c for c in log[:20] if (c.get("sip_code") or 200) < 200]
            for call in ringing:
                bland.complete_call(call["call_id"])
                counts["bland: ringing calls completed"] += 1


def snapshot(warehouse: Path, between: tuple[datetime, datetime],
             ) -> dict[str, tuple[Any, ...]]:
    """The calls by key (`synced_at` aside), but those that started `between` the final
    sync's start and the reference's."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute("select call_key, * exclude (call_key, synced_at) from calls "
                           "where started_at is null or started_at not between ? and ?",
                           list(between)).fetchall()
    return {row[0]: row[1:] for row in rows}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m chaos")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--size", type=int, default=300)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="callsync-chaos-"))
    warehouse, clean = work / "chaos" / "calls.duckdb", work / "clean" / "calls.duckdb"
    injected: Counter[str] = Counter()
    began = time.monotonic()
    now = datetime.now(UTC).replace(microsecond=0)
    with build(seed=args.seed, size=args.size, now=now) as sim:
        env = env_for(sim, warehouse)
        print(f"chaos: {args.rounds} rounds, seed {args.seed}, providers "
              f"{', '.join(sim.providers)}, work dir {work}")
        for round_no in range(1, args.rounds + 1):
            mutate(sim, rng, injected)
            for _ in range(rng.randint(0, 6)):
                fault = dict(rng.choice(FAULTS))
                sim.fail_next(provider=rng.choice([None, *sim.providers]), **fault)
                injected["fault " + str(fault.get("fault") or fault["status"])] += 1
            kill = None
            if rng.random() < 0.3:
                kill = rng.choice([*FAILPOINTS, "mid_extract"])
                injected[f"kill {kill}"] += 1
            if rng.random() < 0.1:
                shutil.rmtree(pipelines_dir(warehouse), ignore_errors=True)
                injected["dlt working folder deleted"] += 1
            code = run_sync(env, work, sim, kill, rng)
            print(f"  round {round_no:3d}: kill={kill or '-':16s} exit {code}")
        sim._faults.clear()  # the final syncs run without faults
        # a call that starts after the final sync began (jambonz's window ends there) and
        # before the reference sync did is in the reference only: such calls are not
        # compared
        final_began = datetime.now(UTC)
        final = run_sync(env, work, sim, None, rng)
        clean_env = dict(env, DESTINATION__DUCKDB__CREDENTIALS=str(clean))
        between = (final_began, datetime.now(UTC))
        reference = run_sync(clean_env, work, sim, None, rng)
    got, want = snapshot(warehouse, between), snapshot(clean, between)
    missing, extra = want.keys() - got.keys(), got.keys() - want.keys()
    differ = [k for k in want.keys() & got.keys() if want[k] != got[k]]
    print("\ninjected:")
    for what, n in sorted(injected.items()):
        print(f"  {what:40s} {n}")
    print("\nfound:")
    print(f"  final sync exit {final}, clean reference exit {reference}")
    print(f"  calls: {len(got)} (clean run: {len(want)}); missing {len(missing)}, "
          f"extra {len(extra)}, different {len(differ)}")
    print(f"  {time.monotonic() - began:.0f} s")
    ok = final == 0 and reference == 0 and not (missing or extra or differ) and want
    print("chaos: OK" if ok else "chaos: FAILED")
    if ok:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
