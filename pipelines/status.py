"""`callsync status`: per provider, last sync and its outcome, cursors, raw and modeled
rows, and freshness (contract section 5: `--json`, `--max-age`).

The last sync's times, status and error come from `sync_runs` (pipelines/runs.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
from dlt.common.versioned_state import decompress_state

from pipelines import readers
from pipelines.lock import WarehouseBusy
from pipelines.sync import is_configured
from pipelines.transform import table_exists
from pipelines.warehouse import connect
from sources import PROVIDERS

log = logging.getLogger("callsync.status")

@dataclass
class ProviderStatus:
    slug: str
    configured: bool = False
    last_success_at: datetime | None = None  # finished_at of its last ok sync_runs row
    last_run_at: datetime | None = None  # finished_at of its last sync_runs row
    last_run_status: str | None = None
    last_error: str | None = None
    newest_call_at: datetime | None = None
    cursors: dict[str, Any] = field(default_factory=dict)
    raw_rows: dict[str, int] = field(default_factory=dict)
    calls: int = 0
    rejected: int = 0
    unknown: int = 0
    unfinished: int = 0  # calls `calls_unfinished` lists (followed, or past the limit)
    last_api_count: int | None = None  # the last run's count from the API, where it gives one
    last_received: int | None = None  # what the last run received for that window

    @property
    def cursor(self) -> datetime | None:
        """The newest cursor over the provider's partitions."""
        values = [v for v in self.cursors.values() if isinstance(v, datetime)]
        return max(values, default=None)

    def stale(self, max_age: int, now: datetime) -> bool:
        """Configured, and no successful sync in the last `max_age` seconds."""
        return self.configured and (self.last_success_at is None or
                                    self.last_success_at < now - timedelta(seconds=max_age))

    def as_json(self) -> dict[str, Any]:
        """The provider's fields of `callsync status --json`."""
        return {"configured": self.configured,
                "last_success_at": _iso(self.last_success_at),
                "last_run_at": _iso(self.last_run_at),
                "last_run_status": self.last_run_status,
                "last_error": self.last_error,
                "cursor": _iso(self.cursor),
                "newest_call_at": _iso(self.newest_call_at),
                "calls": self.calls,
                "rejected": self.rejected,
                "unfinished": self.unfinished,
                "last_api_count": self.last_api_count,
                "last_received": self.last_received}


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def as_json(warehouse: Path | str, statuses: list[ProviderStatus]) -> dict[str, Any]:
    """The object `callsync status --json` prints (another engine's `warehouse`: its
    name, without a password)."""
    return {"warehouse": str(warehouse.absolute()) if isinstance(warehouse, Path) else warehouse,
            "providers": {s.slug: s.as_json() for s in statuses}}


def unread() -> list[ProviderStatus]:
    """Every provider's status where there is no warehouse yet: only `configured`."""
    return [ProviderStatus(slug, configured=is_configured(p)) for slug, p in PROVIDERS.items()]


def cursors(con: duckdb.DuckDBPyConnection, slug: str) -> dict[str, Any]:
    """Each resource's incremental `last_value`, read from dlt's state in the warehouse."""
    dataset = f"raw_{slug}"
    if not table_exists(con, dataset, "_dlt_pipeline_state"):
        return {}
    row = con.execute(
        f'select state from "{dataset}"."_dlt_pipeline_state" '
        "where pipeline_name = ? order by version desc limit 1", [f"callsync_{slug}"],
    ).fetchone()
    if not row:
        return {}
    state = decompress_state(row[0])
    found = {}
    for source in state.get("sources", {}).values():
        for name, resource in source.get("resources", {}).items():
            for cursor in resource.get("incremental", {}).values():
                found[name] = cursor.get("last_value")
    return found


def read(warehouse: Path) -> list[ProviderStatus]:
    """The status of every provider in `warehouse` (read-only).

    While a sync writes the warehouse (DuckDB then lets no other process open it), the
    readers' copy is read instead: it holds the run history and tables of the last build,
    but no cursors and no raw tables.

    Raises:
        WarehouseBusy: The warehouse is being written and has no readers' copy.
    """
    with _open(warehouse) as con:
        return read_from(con)


def read_from(con: duckdb.DuckDBPyConnection) -> list[ProviderStatus]:
    """The status of every provider from a connection holding the warehouse's tables: the
    DuckDB file, the Spark engine's Parquet datasets as views, or another engine's
    connection that runs this DuckDB SQL (`pipelines.engines.postgres.Session`)."""
    result = unread()
    con.execute("set TimeZone = 'UTC'")
    has_calls = table_exists(con, "main", "calls")
    has_runs = table_exists(con, "main", "sync_runs")
    for status in result:
        slug = status.slug
        dataset = f"raw_{slug}"
        if has_runs:
            _last_runs(con, status)
        status.cursors = cursors(con, slug)
        for (table,) in con.execute(
                "select table_name from information_schema.tables where table_schema = ? "
                "and table_name not like '\\_dlt%' escape '\\' order by 1",
                [dataset]).fetchall():
            count = con.execute(f'select count(*) from "{dataset}"."{table}"').fetchone()
            status.raw_rows[table] = int(count[0]) if count else 0
        if has_calls:
            row = con.execute(
                "select count(*), count(*) filter (where status = 'unknown' "
                "or direction = 'unknown'), max(started_at) from calls where provider = ?",
                [slug]).fetchone()
            if row:
                status.calls, status.unknown = int(row[0]), int(row[1])
                status.newest_call_at = row[2]
        if table_exists(con, "main", "calls_rejected"):
            row = con.execute("select count(*) from calls_rejected where provider = ?",
                              [slug]).fetchone()
            status.rejected = int(row[0]) if row else 0
        if table_exists(con, "main", "calls_unfinished"):
            row = con.execute("select count(*) from calls_unfinished where provider = ?",
                              [slug]).fetchone()
            status.unfinished = int(row[0]) if row else 0
    return result


def _open(warehouse: Path) -> duckdb.DuckDBPyConnection:
    try:
        return connect(warehouse, read_only=True)
    except duckdb.IOException as exc:
        if "lock" not in str(exc).lower():
            raise
    copy = readers.paths(warehouse)[0]
    if not copy.exists():
        raise WarehouseBusy("callsync", f"another process is writing {warehouse} and there is "
                            "no readers' copy to read instead: run status again when it ends"
                            ) from None
    log.warning("note: a sync is writing %s: read its readers' copy %s (no cursors, no raw "
                "tables)", warehouse, copy)
    return connect(copy, read_only=True)


def _last_runs(con: duckdb.DuckDBPyConnection, status: ProviderStatus) -> None:
    last = con.execute(
        "select finished_at, status, error, api_count, received from sync_runs "
        "where provider = ? order by finished_at desc, started_at desc limit 1",
        [status.slug]).fetchone()
    if last:
        (status.last_run_at, status.last_run_status, status.last_error,
         status.last_api_count, status.last_received) = last
    ok = con.execute("select max(finished_at) from sync_runs where provider = ? "
                     "and status = 'ok'", [status.slug]).fetchone()
    status.last_success_at = ok[0] if ok else None
