"""What each `callsync` command does, and how its result reads."""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from pipelines import checks as checks_mod
from pipelines import status as status_mod
from pipelines import sync as sync_mod
from pipelines import transform as transform_mod
from pipelines.lock import WarehouseLock
from pipelines.redaction import add_secrets
from pipelines.warehouse import DEMO_WAREHOUSE, connect, pipelines_dir, warehouse_path
from sources import all_raw_columns

log = logging.getLogger("callsync")


def sync(names: Sequence[str], start: datetime | None, end: datetime | None) -> int:
    warehouse = warehouse_path()
    result = sync_mod.run(warehouse, names, start, end)
    report(result, warehouse)
    return 0 if result.ok else 1


def report(result: sync_mod.SyncResult, warehouse: Path) -> None:
    """The end-of-sync summary: one line per provider, then failures, one line each."""
    log.info("%-8s %7s %9s %8s %8s %8s %8s %8s", "provider", "pages", "records", "new",
             "updated", "rejected", "unknown", "seconds")
    for p in result.providers:
        if p.ok:
            log.info("%-8s %7d %9d %8d %8d %8d %8d %8.1f", p.slug, p.pages, p.records, p.new,
                     p.updated, result.rejected.get(p.slug, 0), result.unknown.get(p.slug, 0),
                     p.seconds)
        else:
            log.info("%-8s %7d %9s %8s %8s %8s %8s %8.1f  FAILED", p.slug, p.pages, "-", "-",
                     "-", "-", "-", p.seconds)
    log.info("models built in %.1f s -> %s", result.build_seconds, warehouse)
    for p in result.providers:
        if not p.ok:
            log.error("failed: %s", p.error)
    if result.build_error:
        log.error("failed: %s", result.build_error)


def transform() -> int:
    warehouse = warehouse_path()
    if not warehouse.exists():
        log.error("error: no warehouse at %s yet: run `callsync sync` first", warehouse)
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
        log.error("error: no warehouse at %s yet: run `callsync sync` first", warehouse)
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
    """Sync every provider from the bundled simulator into a fresh `data/demo.duckdb`."""
    from simulator import build

    warehouse = DEMO_WAREHOUSE
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


def check(fail_on: str | None) -> int:
    """Run the data-quality rules into `call_checks` and print one line per rule and
    provider; exit 1 when a rule of the `fail_on` severity (or worse) fails."""
    warehouse = warehouse_path()
    if not warehouse.exists():
        log.error("error: no warehouse at %s yet: run `callsync sync` first", warehouse)
        return 2
    with WarehouseLock(warehouse), connect(warehouse) as con:
        if not transform_mod.table_exists(con, "main", "calls"):
            log.error("error: %s has no calls table yet: run `callsync sync` first", warehouse)
            return 2
        con.execute("set TimeZone = 'UTC'")
        results = checks_mod.run(con)
    if not results:
        log.info("no calls to check yet -> %s", warehouse)
        return 0
    log.info("%-26s %-8s %-8s %9s %9s  %s", "rule", "provider", "severity", "failing",
             "total", "sample")
    for r in results:
        log.info("%-26s %-8s %-8s %9d %9d  %s", r.rule, r.provider, r.severity,
                 r.failing_rows, r.total_rows, ", ".join(r.sample_keys[:2]))
    failing = [r for r in results if r.failed]
    log.info("%d of %d checks failing (%d error, %d warn); written to call_checks in %s",
             len(failing), len(results), sum(r.severity == "error" for r in failing),
             sum(r.severity == "warn" for r in failing), warehouse)
    failed = checks_mod.failed(results, fail_on)
    if failed:
        log.error("failed: %d %s checks fail (--fail-on %s)", len(failed),
                  "error" if fail_on == "error" else "error or warn", fail_on)
        return 1
    return 0
