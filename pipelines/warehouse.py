"""Where the warehouse file and dlt's working folder are."""

from __future__ import annotations

from pathlib import Path

import dlt

DEFAULT_WAREHOUSE = Path("data/calls.duckdb")
DEMO_WAREHOUSE = Path("data/demo.duckdb")


def warehouse_path() -> Path:
    """The DuckDB file: `DESTINATION__DUCKDB__CREDENTIALS`, else `data/calls.duckdb`."""
    configured: object = dlt.config.get("destination.duckdb.credentials")
    if isinstance(configured, str) and configured and configured != ":memory:":
        return Path(configured.removeprefix("duckdb:///"))
    return DEFAULT_WAREHOUSE


def pipelines_dir(warehouse: Path) -> Path:
    """dlt's local working folder for this warehouse (safe to delete: state is in the file)."""
    return warehouse.parent / f".{warehouse.stem}.dlt"
