"""`callsync status`: per provider, last successful sync, cursors, raw and modeled rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
from dlt.common.versioned_state import decompress_state

from pipelines.transform import table_exists
from pipelines.warehouse import connect
from sources import PROVIDERS


@dataclass
class ProviderStatus:
    slug: str
    last_sync: Any = None
    cursors: dict[str, Any] = field(default_factory=dict)
    raw_rows: dict[str, int] = field(default_factory=dict)
    calls: int = 0
    rejected: int = 0
    unknown: int = 0


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
    """The status of every provider in `warehouse` (read-only)."""
    result = []
    with connect(warehouse, read_only=True) as con:
        has_calls = table_exists(con, "main", "calls")
        for slug in PROVIDERS:
            status = ProviderStatus(slug)
            dataset = f"raw_{slug}"
            if table_exists(con, dataset, "_dlt_loads"):
                row = con.execute(f'select max(inserted_at) from "{dataset}"."_dlt_loads" '
                                  "where status = 0").fetchone()
                status.last_sync = row[0] if row else None
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
                    "or direction = 'unknown') from calls where provider = ?", [slug]).fetchone()
                status.calls, status.unknown = (int(row[0]), int(row[1])) if row else (0, 0)
            if table_exists(con, "main", "calls_rejected"):
                row = con.execute("select count(*) from calls_rejected where provider = ?",
                                  [slug]).fetchone()
                status.rejected = int(row[0]) if row else 0
            result.append(status)
    return result
