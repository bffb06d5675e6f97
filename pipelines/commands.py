"""What each `callsync` command does, and how its result reads."""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from pipelines import status as status_mod
from pipelines import sync as sync_mod
from pipelines import transform as transform_mod
from pipelines.errors import UsageError
from pipelines.lock import WarehouseLock
from pipelines.redaction import add_secrets
from pipelines.warehouse import (
    DEMO_WAREHOUSE,
    connect,
    missing,
    pipelines_dir,
    resolve,
    use,
    warehouse_path,
)
from sources import all_raw_columns

log = logging.getLogger("callsync")


def sync(names: Sequence[str], start: datetime | None, end: datetime | None) -> int:
    warehouse = warehouse_path()
    result = sync_mod.run(warehouse, names, start, end)
    report(result, warehouse)
    return 0 if result.ok else 1


def report(result: sync_mod.SyncResult, warehouse: Path) -> None:
    """The end-of-sync summary: one line per provider, every figure of this run only.

    `records` are call records loaded, `others` SIP configs and live calls; `new` and
    `updated` are `calls` rows; `rejected` and `unknown` count this run's records that
    became `calls_rejected` rows or `calls` rows with an `unknown` value (totals: `status`).
    A figure nobody measured (a failed provider's, or every model figure when the build
    failed) is `-`, never 0.
    """
    log.info("%-8s %7s %9s %7s %8s %8s %8s %8s %8s", "provider", "pages", "records", "others",
             "new", "updated", "rejected", "unknown", "seconds")
    built = result.build_error is None
    for p in result.providers:
        loaded = [f"{p.records:9d}", f"{p.others:7d}"] if p.ok else [f"{'-':>9}", f"{'-':>7}"]
        model = [p.new, p.updated, result.rejected.get(p.slug, 0),
                 result.unknown.get(p.slug, 0)]
        figures = [f"{n:8d}" if built and p.ok else f"{'-':>8}" for n in model]
        log.info("%-8s %7d %s %s %8.1f%s", p.slug, p.pages, " ".join(loaded), " ".join(figures),
                 p.seconds, "" if p.ok else "  FAILED")
    if built:
        log.info("models built in %.1f s -> %s", result.build_seconds, warehouse)
    for p in result.providers:
        if not p.ok:
            log.error("failed: %s", p.error)
    if result.build_error:
        log.error("failed: %s", result.build_error)


def transform() -> int:
    warehouse = warehouse_path()
    if not warehouse.exists():
        log.error("error: %s", missing(warehouse))
        return 2
    began = time.monotonic()
    with WarehouseLock(warehouse), connect(warehouse) as con:
        # every raw row goes through the models: minutes at 10M calls, so say it starts
        log.info("rebuilding the models from every raw row -> %s", warehouse)
        transform_mod.build(con, all_raw_columns(), incremental=False)
        rows = con.execute("select count(*) from calls").fetchone()
    log.info("models rebuilt in %.1f s: %d calls -> %s", time.monotonic() - began,
             rows[0] if rows else 0, warehouse)
    return 0


def status() -> int:
    warehouse = warehouse_path()
    if not warehouse.exists():
        log.error("error: %s", missing(warehouse))
        return 2
    for s in status_mod.read(warehouse):
        synced = s.last_sync.isoformat() if s.last_sync else "never"
        log.info("%s: last successful sync %s; %d calls, %d rejected, %d unknown",
                 s.slug, synced, s.calls, s.rejected, s.unknown)
        for name, value in sorted(s.cursors.items()):
            log.info("  cursor %-28s %s", name, value)
        for table, count in s.raw_rows.items():
            log.info("  raw_%s.%-22s %d rows", s.slug, table, count)
    return 0


def demo(size: int) -> int:
    """Sync every provider from the bundled simulator into a fresh `data/demo.duckdb`
    (or the file `--warehouse` names, which must not exist yet)."""
    from simulator import build

    warehouse = warehouse_path(DEMO_WAREHOUSE)
    if warehouse != resolve(DEMO_WAREHOUSE) and warehouse.exists():  # never a real one
        raise UsageError(f"--warehouse {warehouse} exists: the demo writes a fresh file; "
                         "name one that does not exist yet")
    use(warehouse)  # every part of the demo (and what runs after its build) uses this file
    for leftover in (warehouse, warehouse.with_name(warehouse.name + ".wal")):
        leftover.unlink(missing_ok=True)
    shutil.rmtree(pipelines_dir(warehouse), ignore_errors=True)
    now = datetime.now(UTC).replace(microsecond=0)
    with build(size=size, now=now) as sim:
        log.info("simulator on %s: syncing %s", sim.url, ", ".join(sim.providers))
        overrides = {slug: p.config(sim.url) for slug, p in sim.providers.items()}
        add_secrets(v for config in overrides.values() for v in config.values())
        result = sync_mod.run(warehouse, list(sim.providers), overrides=overrides)
    report(result, warehouse)
    log.info("try: uv run duckdb %s -c \"select status, count(*) from calls group by 1\"",
             warehouse)
    return 0 if result.ok else 1
