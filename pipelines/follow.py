"""Unfinished calls and completeness: what `sync` reads before extraction, and the
warning when a window came back short (the sync summary's and `status`'s).

Before a sync, each provider's calls left unfinished by their last load (the view
`calls_unfinished`) are read from the warehouse and passed to its source function
(`unfinished=`), which fetches them again (see `sources/_follow.py`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipelines.transform import table_exists
from pipelines.warehouse import connect
from sources._follow import Unfinished

VIEW = "calls_unfinished"


def read_unfinished(warehouse: Path) -> dict[str, list[Unfinished]]:
    """Per provider, the calls `calls_unfinished` lists (none before the first build)."""
    if not warehouse.exists():
        return {}
    with connect(warehouse) as con:
        if not table_exists(con, "main", VIEW):
            return {}
        return unfinished_from(con)


def unfinished_from(con: Any) -> dict[str, list[Unfinished]]:
    """Per provider, the calls `calls_unfinished` lists, read through `con`: any connection
    that runs this DuckDB SQL over `main.calls` and `main.calls_unfinished` (DuckDB's, the
    Postgres engine's `Session`, DuckDB over the Spark engine's marts)."""
    rows = con.execute(
        "select c.provider, c.call_id, c.account_id, c.started_at from main.calls c "
        f"where c.call_key in (select call_key from main.{VIEW}) "
        "order by c.provider, c.started_at").fetchall()
    found: dict[str, list[Unfinished]] = {}
    for provider, call_id, account_id, started_at in rows:
        found.setdefault(provider, []).append(Unfinished(call_id, account_id, started_at))
    return found


def shortfall(slug: str, api_count: int | None, received: int | None) -> str | None:
    """The summary's warning when a sync received fewer records than the API counted for
    its window, else None."""
    if api_count is None or received is None or received >= api_count:
        return None
    return (f"{slug}: received {received} of the {api_count} calls the API counts in the "
            f"sync window ({api_count - received} missing); the next sync's lookback may "
            "close the gap")
