"""Build the models over raw rows made in the test: the SQL alone, no HTTP."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from pipelines import transform
from sources import all_raw_columns


def load_raw(con: duckdb.DuckDBPyConnection, table: str, rows: pa.Table) -> None:
    """Append an Arrow table to `raw_<slug>.<table>` (created on first use)."""
    schema = table.split(".")[0]
    con.execute(f'create schema if not exists "{schema}"')
    con.register("_rows", rows)
    exists = con.execute("select count(*) from information_schema.tables where "
                         "table_schema || '.' || table_name = ?", [table]).fetchone()
    if exists and exists[0]:
        con.execute(f"insert into {table} by name select * from _rows")
    else:
        con.execute(f"create table {table} as select * from _rows")
    con.unregister("_rows")


def build(con: duckdb.DuckDBPyConnection, incremental: bool = False) -> transform.BuildReport:
    return transform.build(con, all_raw_columns(), incremental=incremental)


def rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None
         ) -> list[dict[str, Any]]:
    cursor = con.execute(sql, params or [])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def connect(path: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path))
    con.execute("set TimeZone = 'UTC'")
    return con
