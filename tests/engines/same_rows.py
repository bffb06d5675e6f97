"""Same data, same rows: read a contract table from DuckDB and from another engine in one
comparable shape, and compare them row for row (issue 13 item 4).

Each engine's reader returns `Table`: the column names in order, each column's type in
the contract's words (`VARCHAR`, `INTEGER`, `BIGINT`, `DOUBLE`, `BOOLEAN`, `DATE`,
`TIMESTAMPTZ`, `VARCHAR[]`), and the rows sorted, with instants as aware UTC datetimes
and doubles rounded to 9 places. Columns that hold when a row was loaded (`synced_at`,
`observed_at`, `loaded_at`, ...) differ between two syncs and are left out by name.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

TABLES = ("calls", "calls_daily", "sip_configs", "active_calls", "calls_rejected")
# when a row was loaded or checked: differs between two syncs of the same data
LOAD_TIMES = ("synced_at", "observed_at", "loaded_at", "checked_at")
# `sync_runs` columns that two syncs of the same data share (not ids or wall-clock times)
RUN_COLUMNS = ("provider", "status", "error", "backfill", "window_start", "window_end",
               "requests", "pages", "records", "calls_new", "calls_updated", "rejected",
               "api_count", "received", "complete")

# Postgres' information_schema `data_type` -> the contract's DuckDB type
POSTGRES_TYPES = {"text": "VARCHAR", "character varying": "VARCHAR", "integer": "INTEGER",
                  "bigint": "BIGINT", "double precision": "DOUBLE", "boolean": "BOOLEAN",
                  "date": "DATE", "timestamp with time zone": "TIMESTAMPTZ",
                  "ARRAY": "VARCHAR[]"}

# DuckDB's information_schema spells two of them longhand
DUCKDB_TYPES = {"TIMESTAMP WITH TIME ZONE": "TIMESTAMPTZ", "VARCHAR[]": "VARCHAR[]"}

Row = tuple[Any, ...]


@dataclass
class Table:
    """One engine's copy of a table, comparable with another's."""

    columns: list[str]
    types: list[str]
    rows: list[Row]


def value(v: Any) -> Any:
    """One value in a form both engines give alike."""
    if isinstance(v, datetime):
        return v.astimezone(UTC) if v.tzinfo else v.replace(tzinfo=UTC)
    if isinstance(v, float):
        return v if math.isnan(v) else round(v, 9)
    if isinstance(v, list):
        return tuple(v)
    return v


def _sorted(rows: Iterable[Sequence[Any]]) -> list[Row]:
    shaped = [tuple(value(v) for v in r) for r in rows]
    return sorted(shaped, key=lambda r: tuple((x is None, str(x)) for x in r))


def _chosen(columns: list[tuple[str, str]], only: Sequence[str] | None,
            exclude: Sequence[str]) -> list[tuple[str, str]]:
    if only is not None:
        by_name = dict(columns)
        return [(c, by_name[c]) for c in only]
    return [(c, t) for c, t in columns if c not in exclude]


def from_duckdb(path: Path, table: str, only: Sequence[str] | None = None,
                exclude: Sequence[str] = LOAD_TIMES) -> Table:
    """`table` of the DuckDB file `path` (default schema)."""
    with duckdb.connect(str(path), read_only=True) as con:
        con.execute("set TimeZone = 'UTC'")
        columns = _chosen([(c, DUCKDB_TYPES.get(t, t)) for c, t in con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'main' and table_name = ? order by ordinal_position",
            [table]).fetchall()], only, exclude)
        names = ", ".join(f'"{c}"' for c, _ in columns)
        rows = con.execute(f'select {names} from main."{table}"').fetchall()
    return Table([c for c, _ in columns], [t for _, t in columns], _sorted(rows))


def from_postgres(dsn: str, table: str, only: Sequence[str] | None = None,
                  exclude: Sequence[str] = LOAD_TIMES) -> Table:
    """`table` of schema `public` in the Postgres database `dsn`."""
    import psycopg2

    con = psycopg2.connect(dsn)
    try:
        with con.cursor() as cur:
            cur.execute("set timezone = 'UTC'")
            cur.execute("select column_name, data_type from information_schema.columns "
                        "where table_schema = 'public' and table_name = %s "
                        "order by ordinal_position", [table])
            columns = _chosen([(c, POSTGRES_TYPES.get(t, t)) for c, t in cur.fetchall()],
                              only, exclude)
            names = ", ".join(f'"{c}"' for c, _ in columns)
            cur.execute(f'select {names} from public."{table}"')
            rows = cur.fetchall()
    finally:
        con.close()
    return Table([c for c, _ in columns], [t for _, t in columns], _sorted(rows))


def differences(expected: Table, actual: Table, limit: int = 5) -> list[str]:
    """What differs between two copies of a table (empty when they are the same): the
    columns and types, then rows missing from either side (at most `limit` of each)."""
    found = []
    if expected.columns != actual.columns:
        found.append(f"columns {expected.columns} != {actual.columns}")
    elif expected.types != actual.types:
        found.append(f"types {list(zip(expected.columns, expected.types, strict=True))} != "
                     f"{list(zip(actual.columns, actual.types, strict=True))}")
    if expected.rows != actual.rows:
        missing = [r for r in expected.rows if r not in actual.rows]
        extra = [r for r in actual.rows if r not in expected.rows]
        found.append(f"{len(expected.rows)} rows vs {len(actual.rows)}; only in the first "
                     f"{missing[:limit]}; only in the second {extra[:limit]}")
    return found


def from_parquet(bucket: Path, table: str, only: Sequence[str] | None = None,
                 exclude: Sequence[str] = LOAD_TIMES) -> Table:
    """`table` as the Spark engine wrote it: the Parquet dataset `<bucket>/marts/<table>/`,
    read with DuckDB."""
    with duckdb.connect() as con:
        con.execute("set TimeZone = 'UTC'")
        con.execute(f"create view t as select * from read_parquet("
                    f"'{bucket / 'marts' / table}/**/*.parquet')")
        columns = _chosen([(c, DUCKDB_TYPES.get(t, t)) for c, t, *_ in con.execute(
            "describe t").fetchall()], only, exclude)
        names = ", ".join(f'"{c}"' for c, _ in columns)
        rows = con.execute(f"select {names} from t").fetchall()
    return Table([c for c, _ in columns], [t for _, t in columns], _sorted(rows))
