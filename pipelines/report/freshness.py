"""Each provider's freshness on the dashboard: its last successful sync and its newest call.

The last successful sync comes from `sync_runs` (contract section 5) where the file has an ok
run of the provider, else from dlt's own load log (`raw_<slug>._dlt_loads`, loads with
status 0, as `callsync status` reads it; the readers' copy has no such log).
The newest call is max(`started_at`) in `calls`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb

from pipelines.report.source import rows
from pipelines.transform import table_exists
from sources import PROVIDERS


@dataclass
class Freshness:
    """One provider's row of the freshness table."""

    provider: str
    last_success_at: datetime | None = None
    newest_call_at: datetime | None = None
    last_run_status: str | None = None  # only known from `sync_runs`
    last_error: str | None = None


def read(con: duckdb.DuckDBPyConnection) -> list[Freshness]:
    """Every provider with calls or a recorded sync, in the order of `PROVIDERS`."""
    found: dict[str, Freshness] = {}

    def of(provider: str) -> Freshness:
        return found.setdefault(provider, Freshness(provider))

    for row in rows(con, "select provider, max(started_at) as newest from calls group by 1"):
        of(row["provider"]).newest_call_at = row["newest"]
    if table_exists(con, "main", "sync_runs"):
        for row in rows(con, """
                select
                    provider,
                    max(finished_at) filter (where status = 'ok') as last_success_at,
                    arg_max(status, finished_at) as last_run_status,
                    arg_max(error, finished_at) as last_error,
                from sync_runs
                group by provider"""):
            fresh = of(row["provider"])
            fresh.last_success_at = row["last_success_at"]
            fresh.last_run_status = row["last_run_status"]
            fresh.last_error = row["last_error"] if row["last_run_status"] != "ok" else None
    # a warehouse older than its run history (or a file without one): dlt's load log
    for slug in PROVIDERS:
        if (slug not in found or found[slug].last_success_at is None) and table_exists(
                con, f"raw_{slug}", "_dlt_loads"):
            loaded = rows(con, f'select max(inserted_at) as at from "raw_{slug}"."_dlt_loads" '
                               "where status = 0")
            if loaded and loaded[0]["at"] is not None:
                of(slug).last_success_at = loaded[0]["at"]
    order = {slug: i for i, slug in enumerate(PROVIDERS)}
    return sorted(found.values(), key=lambda f: (order.get(f.provider, len(order)), f.provider))
