"""Where the warehouse file and dlt's working folder are."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dlt
import duckdb

DEFAULT_WAREHOUSE = Path("data/calls.duckdb")
DEMO_WAREHOUSE = Path("data/demo.duckdb")


def warehouse_path() -> Path:
    """The DuckDB file: `DESTINATION__DUCKDB__CREDENTIALS`, else `data/calls.duckdb`."""
    configured: object = dlt.config.get("destination.duckdb.credentials")
    if isinstance(configured, str) and configured and configured != ":memory:":
        return Path(configured.removeprefix("duckdb:///"))
    return DEFAULT_WAREHOUSE


# DuckDB's default cap is 80 % of RAM: a full model build of 1M calls peaked at 910 MiB
# here. A cap (DuckDB spills to disk beyond it) and unordered inserts keep loads and builds
# leaner; at 1M calls 512 MB cost the full build ~8 % time, 256 MB ~60 % (bench/README.md).
# `[callsync] memory_limit` (env CALLSYNC__MEMORY_LIMIT) changes it.
DEFAULT_MEMORY_LIMIT = "512MB"


def settings() -> dict[str, Any]:
    """DuckDB settings of every connection callsync opens. Every model orders what it needs
    explicitly, so insertion order need not be kept."""
    limit: object = dlt.config.get("callsync.memory_limit") or DEFAULT_MEMORY_LIMIT
    return {"memory_limit": str(limit), "preserve_insertion_order": False}


def destination(warehouse: Path) -> Any:
    """dlt's DuckDB destination for `warehouse`, with the memory settings."""
    return dlt.destinations.duckdb({"database": str(warehouse), "global_config": settings()})


def connect(warehouse: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection to `warehouse`, with the memory settings."""
    return duckdb.connect(str(warehouse), read_only=read_only, config=settings())


def pipelines_dir(warehouse: Path) -> Path:
    """dlt's local working folder for this warehouse (safe to delete: state is in the file)."""
    return warehouse.parent / f".{warehouse.stem}.dlt"
