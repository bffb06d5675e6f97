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


# DuckDB's default cap is 80 % of RAM, and a load or a model build at millions of calls
# used 1-2 GB of it here; a cap (DuckDB spills to disk beyond it) and unordered inserts
# keep both lean. Every model orders what it needs explicitly.
SETTINGS: dict[str, Any] = {"memory_limit": "256MB", "preserve_insertion_order": False}


def destination(warehouse: Path) -> Any:
    """dlt's DuckDB destination for `warehouse`, with the memory settings."""
    return dlt.destinations.duckdb({"database": str(warehouse), "global_config": SETTINGS})


def connect(warehouse: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection to `warehouse`, with the memory settings."""
    return duckdb.connect(str(warehouse), read_only=read_only, config=dict(SETTINGS))


def pipelines_dir(warehouse: Path) -> Path:
    """dlt's local working folder for this warehouse (safe to delete: state is in the file)."""
    return warehouse.parent / f".{warehouse.stem}.dlt"
