"""What each `callsync` command does, and how its result reads."""

from __future__ import annotations

import json
import logging
import shutil
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from pipelines import checks as checks_mod
from pipelines import follow as follow_mod
from pipelines import readers
from pipelines import status as status_mod
from pipelines import sync as sync_mod
from pipelines import transform as transform_mod
from pipelines.engines import spark as spark_engine
from pipelines.errors import UsageError
from pipelines.lock import WarehouseLock
from pipelines.redaction import add_secrets
from pipelines.warehouse import (
    DEMO_WAREHOUSE,
    connect,
    engine,
    missing,
    pipelines_dir,
    resolve,
    use,
    warehouse_path,
)
from sources import all_raw_columns

log = logging.getLogger("callsync")


def sync(names: Sequence[str], start: datetime | None, end: datetime | None) -> int:
    if engine() == "postgres":
        from pipelines.engines import postgres

        result = postgres.run(names, start, end)
        report(result, postgres.where(postgres.credentials()))
        return 0 if result.ok else 1
    warehouse = warehouse_path()
    result = sync_mod.run(warehouse, names, start, end)
    spark = spark_engine.configured()  # on Spark, the marts are in the bucket
    report(result, spark.marts.as_uri() if spark else warehouse)
    return 0 if result.ok else 1


def report(result: sync_mod.SyncResult, warehouse: Path | str) -> None:
    """The end-of-sync summary: one line per provider, every figure of this run only.

    `records` are call records loaded, `others` SIP configs and live calls; `new` and
    `updated` are `calls` rows; `rejected` and `unknown` count this run's records that
    became `calls_rejected` rows or new or changed `calls` rows with an `unknown` value
    (totals: `status`).
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
    for p in result.providers:  # a window short of the API's count: a warning, exit 0
        if p.ok and (short := follow_mod.shortfall(p.slug, p.api_count, p.received)):
            log.warning("warning: %s", short)
    for p in result.providers:
        if not p.ok:
            log.error("failed: %s", p.error)
    if result.build_error:
        log.error("failed: %s", result.build_error)


def transform() -> int:
    if engine() == "postgres":
        from pipelines.engines import postgres

        began = time.monotonic()
        calls, where = postgres.transform_all()
        log.info("models rebuilt in %.1f s: %d calls -> %s", time.monotonic() - began,
                 calls, where)
        return 0
    warehouse = warehouse_path()
    if (spark := spark_engine.configured()) is not None:  # every mart rebuilt on Spark
        with WarehouseLock(warehouse):
            return spark_engine.transform_all(spark)
    if not warehouse.exists():
        log.error("error: %s", missing(warehouse))
        return 2
    publishing = readers.enabled()
    began = time.monotonic()
    with WarehouseLock(warehouse), connect(warehouse) as con:
        # every raw row goes through the models: minutes at 10M calls, so say it starts
        log.info("rebuilding the models from every raw row -> %s", warehouse)
        transform_mod.build(con, all_raw_columns(), incremental=False)
        rows = con.execute("select count(*) from calls").fetchone()
        published = readers.publish_logged(con, warehouse) if publishing else True
    log.info("models rebuilt in %.1f s: %d calls -> %s", time.monotonic() - began,
             rows[0] if rows else 0, warehouse)
    return 0 if published else 1


def status(as_json: bool = False, max_age: int | None = None) -> int:
    """`callsync status [--json] [--max-age SECONDS]`: 3 when a configured provider is stale."""
    warehouse: Path | str
    spark = spark_engine.configured()  # on Spark: the bucket's marts, read with DuckDB
    if engine() == "postgres":
        from pipelines.engines import postgres

        statuses, warehouse = postgres.status()
        exists = True
    else:
        warehouse = spark.bucket if spark else warehouse_path()
        exists = warehouse.exists()
        if not exists and not as_json and max_age is None:
            log.error("error: %s", missing(warehouse))
            return 2
        statuses = ((spark_engine.status(spark) if spark else status_mod.read(warehouse))
                    if exists else status_mod.unread())
    if as_json:
        # the command's output, not a log line: one JSON object on stdout, whatever --debug
        sys.stdout.write(json.dumps(status_mod.as_json(warehouse, statuses)) + "\n")
        sys.stdout.flush()
    elif not exists and isinstance(warehouse, Path):
        log.info("%s", missing(warehouse))
    else:
        _print_status(statuses)
    if max_age is None:
        return 0
    now = datetime.now(UTC)
    stale = [s.slug for s in statuses if s.stale(max_age, now)]
    if stale:
        log.error("stale: no successful sync in the last %d s: %s", max_age, ", ".join(stale))
        return 3
    return 0


def _print_status(statuses: list[status_mod.ProviderStatus]) -> None:
    for s in statuses:
        synced = s.last_success_at.isoformat() if s.last_success_at else "never"
        log.info("%s: last successful sync %s; %d calls, %d rejected, %d unknown",
                 s.slug, synced, s.calls, s.rejected, s.unknown)
        if s.last_run_at is not None:
            log.info("  last run %s at %s%s", s.last_run_status, s.last_run_at.isoformat(),
                     f": {s.last_error}" if s.last_error else "")
        if s.unfinished:
            log.info("  unfinished calls (calls_unfinished) %d", s.unfinished)
        if short := follow_mod.shortfall(s.slug, s.last_api_count, s.last_received):
            log.warning("warning: last run: %s", short)
        for name, value in sorted(s.cursors.items()):
            log.info("  cursor %-28s %s", name, value)
        for table, count in s.raw_rows.items():
            log.info("  raw_%s.%-22s %d rows", s.slug, table, count)


def publish() -> int:
    """`callsync publish`: write the readers' copy now (Postgres and Spark need none)."""
    if engine() == "postgres":
        log.info("nothing to publish: PostgreSQL serves readers itself (no readers' copy is "
                 "written for destination postgres)")
        return 0
    if (spark := spark_engine.configured()) is not None:
        log.info("nothing to publish: on Spark, readers open the Parquet datasets in %s/ "
                 "directly (no readers' copy is written)", spark.marts.as_uri())
        return 0
    warehouse = warehouse_path()
    if not warehouse.exists():
        log.error("error: %s", missing(warehouse))
        return 2
    try:
        done = readers.publish_now(warehouse)
    except readers.PublishError as exc:
        log.error("error: %s", exc)
        return 1
    if not done.tables:
        log.error("error: %s holds no models yet: run `callsync sync` first", warehouse)
        return 2
    log.info("published %s -> %s and %s/", ", ".join(done.tables), done.database, done.folder)
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
    written = write_report(None, warehouse)
    return 0 if result.ok and written == 0 else 1


def write_report(out: Path | None, warehouse: Path | None = None) -> int:
    """`callsync report`: the dashboard as one HTML file; a bad input is one line, exit 2."""
    from pipelines import report as report_mod  # Altair and vl-convert: only when asked

    if warehouse is None and engine() == "postgres":
        from pipelines.engines import postgres

        warehouse = postgres.report_path()  # data/<database>-report.html by default
    spark = None if warehouse else spark_engine.configured()  # the demo's is DuckDB
    warehouse = warehouse or warehouse_path()
    began = time.monotonic()
    try:
        if spark is not None:  # the bucket's marts
            path = spark_engine.write_report(spark, out, warehouse)
        else:
            path = report_mod.write(warehouse, out)
    except report_mod.ReportError as exc:
        log.error("error: %s", exc)
        return 2
    log.info("report written in %.1f s (%d KiB): %s", time.monotonic() - began,
             path.stat().st_size // 1024, path)
    return 0


def check(fail_on: str | None) -> int:
    """Run the data-quality rules into `call_checks` and print one line per rule and
    provider; exit 1 when a rule of the `fail_on` severity (or worse) fails."""
    warehouse: Path | str
    if engine() == "postgres":
        from pipelines.engines import postgres

        found, warehouse = postgres.check()
        if found is None:
            log.error("error: %s has no calls table yet: run `callsync sync` first", warehouse)
            return 2
        return _print_checks(found, fail_on, warehouse)
    warehouse = warehouse_path()
    spark = spark_engine.configured()  # on Spark: into the bucket's call_checks dataset
    if spark is not None:
        with WarehouseLock(warehouse):
            results = spark_engine.run_checks(spark)
        return _print_checks(results, fail_on, spark.marts.as_uri())
    if not warehouse.exists():
        log.error("error: %s", missing(warehouse))
        return 2
    with WarehouseLock(warehouse), connect(warehouse) as con:
        if not transform_mod.table_exists(con, "main", "calls"):
            log.error("error: %s has no calls table yet: run `callsync sync` first", warehouse)
            return 2
        con.execute("set TimeZone = 'UTC'")
        results = checks_mod.run(con)
    return _print_checks(results, fail_on, warehouse)


def _print_checks(results: list[checks_mod.CheckResult], fail_on: str | None,
                  warehouse: Path | str) -> int:
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
