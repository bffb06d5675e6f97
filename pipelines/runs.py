"""Run history: one `sync_runs` row per provider per `callsync sync` (contract section 5).

- The table is appended to, never rewritten; it is created on first use with plain SQL
  types (VARCHAR, TIMESTAMPTZ, BIGINT, BOOLEAN) so the same statements run on Postgres.
- Rows are written after the model build, whether it or any provider failed: a failed
  provider's row survives its failure. A run killed before then leaves no row.
- The error stored is the one-line reason the CLI prints, with every configured secret
  masked (`pipelines.redaction`).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from pipelines.redaction import MASK, configured_secrets, formatters
from pipelines.transform import table_exists
from pipelines.warehouse import connect

if TYPE_CHECKING:
    from pipelines.sync import ProviderResult, SyncResult

log = logging.getLogger("callsync.runs")

TABLE = "sync_runs"

# name, type, comment (COMMENT ON: BI tools and duckdb_columns() show it)
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("run_id", "VARCHAR NOT NULL", "one value for every provider of one callsync sync"),
    ("provider", "VARCHAR NOT NULL", "the provider slug: bland, sipsim, unpod, jambonz"),
    ("started_at", "TIMESTAMPTZ NOT NULL", "when this provider's part of the run began (UTC)"),
    ("finished_at", "TIMESTAMPTZ NOT NULL",
     "when this provider's part of the run ended, its load included (UTC)"),
    ("status", "VARCHAR NOT NULL",
     "ok, or failed when its extract or load failed or the model build after it did"),
    ("error", "VARCHAR", "the one-line reason the CLI printed; null when ok; never a secret"),
    ("backfill", "BOOLEAN NOT NULL", "true for a --start/--end backfill (cursor not moved)"),
    ("window_start", "TIMESTAMPTZ",
     "start of the call-time window asked of the API: the earliest over its partitions"),
    ("window_end", "TIMESTAMPTZ", "end of the window asked (exclusive); null: up to now"),
    ("requests", "BIGINT", "HTTP requests sent in this run, retries included"),
    ("pages", "BIGINT", "pages read in this run"),
    ("records", "BIGINT", "call records received in this run (SIP configs, live calls not)"),
    ("calls_new", "BIGINT", "calls rows this run added; null when the build failed"),
    ("calls_updated", "BIGINT",
     "calls rows this run changed (synced_at aside); null when the build failed"),
    ("rejected", "BIGINT",
     "records of this run that became calls_rejected rows; null when the build failed"),
    ("api_count", "BIGINT",
     "how many calls the API said the window holds, where it says so; else null"),
    ("received", "BIGINT", "records received for the window (re-fetched unfinished calls not)"),
    ("complete", "BOOLEAN", "received >= api_count; null without api_count"),
)
TABLE_COMMENT = ("run history: one row per provider per callsync sync that reached it, "
                 "failed ones included; appended, never rewritten")


def new_run_id() -> str:
    """A run id: random, so runs on several machines never collide."""
    return str(uuid.uuid4())


def now() -> datetime:
    return datetime.now(UTC)


def ensure_table(con: duckdb.DuckDBPyConnection) -> None:
    """Create `sync_runs` (and its comments) where it does not exist yet."""
    columns = ",\n    ".join(f"{name} {kind}" for name, kind, _ in COLUMNS)
    con.execute(f"create table if not exists {TABLE} (\n    {columns}\n)")
    con.execute(f"comment on table {TABLE} is {_literal(TABLE_COMMENT)}")
    for name, _, text in COLUMNS:
        con.execute(f"comment on column {TABLE}.{name} is {_literal(text)}")


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def window_start(source: Any) -> datetime | None:
    """The earliest call-time start the source's bound incrementals asked the API for
    (their lag-applied `start_value`), or None when none was bound (failed before)."""
    starts = []
    for resource in source.resources.values():
        wrapper = resource.incremental if resource.selected else None
        incremental = wrapper.incremental if wrapper is not None else None
        value = getattr(incremental, "start_value", None) if incremental else None
        if isinstance(value, datetime):
            starts.append(value.astimezone(UTC))
    return min(starts, default=None)


@contextmanager
def recorded(warehouse: Path, result: SyncResult) -> Iterator[None]:
    """Around the model build: afterwards (also when it raised), append this run's rows.

    An exception from the build marks every provider failed in `sync_runs` and goes on.
    """
    try:
        yield
    except Exception as exc:
        if result.build_error is None:
            text = str(exc).strip().splitlines()
            result.build_error = ("building the models failed: "
                                  f"{type(exc).__name__}: {text[0] if text else ''}")[:300]
        _write(warehouse, result)
        raise
    _write(warehouse, result)


def _write(warehouse: Path, result: SyncResult) -> None:
    try:
        with connect(warehouse) as con:
            record(con, result)
    except duckdb.Error as exc:
        # the sync's own outcome stands; only its history line is missing
        log.error("failed: sync_runs not written: %s", str(exc).splitlines()[0])


def record(con: duckdb.DuckDBPyConnection, result: SyncResult) -> None:
    """Append one `sync_runs` row per provider of `result`."""
    con.execute("set TimeZone = 'UTC'")
    ensure_table(con)
    rejected = _rejected(con, result) if result.build_error is None else {}
    rows = [_row(result, p, rejected) for p in result.providers]
    if not rows:
        return
    names = ", ".join(name for name, _, _ in COLUMNS)
    marks = ", ".join("?" for _ in COLUMNS)
    con.executemany(f"insert into {TABLE} ({names}) values ({marks})", rows)


def _rejected(con: duckdb.DuckDBPyConnection, result: SyncResult) -> dict[str, int]:
    """Per provider, the `calls_rejected` rows loaded since its run started (one run of
    the view for every provider: ~0.03 s a time at 1M calls); {} before the first build."""
    if not result.providers or not table_exists(con, "main", "calls_rejected"):
        return {}
    since = [(p.slug, p.started_at or now()) for p in result.providers]
    values = ", ".join("(?, ?)" for _ in since)
    return dict(con.execute(
        f"select p.provider, count(r.provider) from (values {values}) p(provider, since) "
        "left join calls_rejected r on r.provider = p.provider and r.loaded_at >= p.since "
        "group by p.provider", [v for pair in since for v in pair]).fetchall())


def _row(result: SyncResult, p: ProviderResult, rejected: dict[str, int]) -> list[Any]:
    started = p.started_at or now()
    finished = p.finished_at or started
    ok = p.ok and result.build_error is None
    error = None if ok else redact(p.error or result.build_error or "failed")
    backfill = result.window is not None
    asked_start, asked_end = result.window or (None, None)
    window_start = p.window_start or asked_start
    # an end at or after the run's start is "up to now"
    window_end = asked_end if asked_end is not None and asked_end < started else None
    built = result.build_error is None  # else the build's figures are unknown: null
    new, updated = (p.new, p.updated) if built else (None, None)
    # null before the first build made calls_rejected, or when this run's build failed
    count = rejected.get(p.slug) if built else None
    received = p.received if p.received is not None else p.records
    complete = None if p.api_count is None else received >= p.api_count
    return [result.run_id, p.slug, started, finished, "ok" if ok else "failed", error,
            backfill, window_start, window_end, p.requests, p.pages, p.records, new,
            updated, count, p.api_count, received, complete]


def redact(text: str) -> str:
    """`text` with every secret callsync knows of masked (configured, and those the
    logging formatters were given: the demo's keys, tokens issued mid-run)."""
    secrets = {str(v).strip() for v in configured_secrets() if isinstance(v, str)}
    for formatter in formatters():
        secrets |= formatter.secrets
    for secret in sorted((s for s in secrets if len(s) >= 6), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text
