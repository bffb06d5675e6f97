"""The SQL runner: `transforms/macros` -> `staging` (views) -> `marts` (tables), in order.

SQL files are plain DuckDB SQL. `{{ raw_<slug>.<table> }}` names a raw table; where it
does not exist yet (a provider never synced), an empty relation of the raw table's
declared columns stands in, so every model builds on any warehouse. No value is ever
formatted into SQL: the only substitutions are identifiers from this project's files.

`calls` is built incrementally after a sync: only the call keys whose raw rows arrived
after the provider's newest `synced_at` in `calls` are recomputed and replaced.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from pipelines.failpoints import failpoint

log = logging.getLogger("callsync.transform")

TRANSFORMS = Path(__file__).resolve().parent.parent / "transforms"
RAW_REF = re.compile(r"\{\{\s*(raw_\w+)\.(\w+)\s*\}\}")
STAGING_REF = re.compile(r"\bstaging\.(stg_\w+)")
FIRST_MARTS = ("calls",)  # built before the marts that read them


@dataclass
class BuildReport:
    """What a build changed in `calls`, per provider."""

    new: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def _is_view(sql: str) -> bool:
    return "-- materialized: view" in sql


def _is_incremental(sql: str) -> bool:
    return "-- materialized: incremental" in sql


def render(sql: str, con: duckdb.DuckDBPyConnection, raw_columns: Mapping[str, str]) -> str:
    """Replace `{{ raw_x.t }}` with the table, or an empty typed stand-in if it is missing."""

    def replace(match: re.Match[str]) -> str:
        schema, table = match.group(1), match.group(2)
        exists = con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = ? and table_name = ?", [schema, table]).fetchone()
        if exists and exists[0]:
            return f'"{schema}"."{table}"'
        columns = raw_columns.get(f"{schema}.{table}")
        if columns is None:
            raise KeyError(f"no declared columns for missing raw table {schema}.{table}")
        return f"(select {columns} where false)"

    return RAW_REF.sub(replace, sql)


def models(folder: str) -> list[Path]:
    paths = sorted((TRANSFORMS / folder).glob("*.sql"))
    if folder == "marts":
        first = [p for name in FIRST_MARTS for p in paths if p.stem == name]
        paths = first + [p for p in paths if p not in first]
    return paths


def build(
    con: duckdb.DuckDBPyConnection,
    raw_columns: Mapping[str, str],
    incremental: bool = False,
) -> BuildReport:
    """Build every model; with `incremental`, `calls` only for keys with new raw rows."""
    con.execute("set TimeZone = 'UTC'")
    con.execute("create schema if not exists staging")
    report = BuildReport()
    for path in models("macros"):
        con.execute(path.read_text())
    for path in models("staging"):
        sql = render(path.read_text(), con, raw_columns)
        con.execute(f'create or replace view staging."{path.stem}" as {sql}')
    for path in models("marts"):
        sql = render(path.read_text(), con, raw_columns)
        if _is_view(sql):
            con.execute(f'create or replace view main."{path.stem}" as {sql}')
        elif _is_incremental(sql):
            _build_incremental(con, path.stem, sql, report, incremental)
        else:
            con.execute(f'create or replace table main."{path.stem}" as {sql}')
    return report


def _table_exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    found = con.execute(
        "select count(*) from information_schema.tables "
        "where table_schema = 'main' and table_name = ? and table_type = 'BASE TABLE'",
        [name]).fetchone()
    return bool(found and found[0])


def _build_incremental(
    con: duckdb.DuckDBPyConnection, name: str, sql: str, report: BuildReport,
    incremental: bool,
) -> None:
    """Replace the rows of `name` whose key has raw rows newer than the table's watermark."""
    con.execute("begin transaction")
    try:
        if incremental and _table_exists(con, name):
            _scope_to_new_rows(con, name)
            scoped = STAGING_REF.sub(lambda m: f'"_scope_{m.group(1)}"', sql)
            con.execute(f"create or replace temp table _changed as {scoped}")
        else:
            con.execute(f"create or replace temp table _changed as {sql}")
            if not _table_exists(con, name):
                con.execute(f'create table main."{name}" as select * from _changed limit 0')
        _count_changes(con, name, report)
        con.execute(f'delete from main."{name}" where call_key in '
                    "(select call_key from _changed)")
        failpoint("during_build")
        con.execute(f'insert into main."{name}" select * from _changed order by started_at')
        if not incremental:
            con.execute(f'delete from main."{name}" where call_key not in '
                        "(select call_key from _changed)")
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


def _scope_to_new_rows(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Temp views `_scope_<view>`: each staging view of `calls`, cut to the call keys that
    have raw rows newer than their provider's newest `synced_at` in `name`.

    The marks are bound as constants so DuckDB filters the raw scan on `fetched_at` (in
    insertion order, so its zone maps skip old row groups) before any JSON is read.
    """
    marks = dict(con.execute(
        f'select provider, max(synced_at) from main."{name}" group by 1').fetchall())
    views = _calls_staging_views()
    con.execute("create or replace temp table _touched (call_key varchar)")
    for view in views:
        slug = view.removeprefix("stg_").split("__")[0]
        mark = marks.get(slug)
        where = "synced_at > ?" if mark is not None else "true"
        con.execute(f'insert into _touched select distinct call_key from staging."{view}" '
                    f"where {where}", [mark] if mark is not None else [])
    for view in views:
        con.execute(f'create or replace temp view "_scope_{view}" as '
                    f'select * from staging."{view}" '
                    "where call_key in (select call_key from _touched)")


def _calls_staging_views() -> list[str]:
    """The staging views `calls.sql` reads (its one branch per provider)."""
    calls_sql = (TRANSFORMS / "marts" / "calls.sql").read_text()
    return sorted(set(STAGING_REF.findall(calls_sql)))


def _count_changes(con: duckdb.DuckDBPyConnection, name: str, report: BuildReport) -> None:
    columns = [row[0] for row in con.execute(
        "select column_name from information_schema.columns where table_schema = 'main' "
        "and table_name = ? and column_name not in ('call_key', 'synced_at') "
        "order by ordinal_position", [name]).fetchall()]
    left = ", ".join(f'c."{c}"' for c in columns)
    right = ", ".join(f't."{c}"' for c in columns)
    rows = con.execute(
        "select c.provider, count(*) filter (where t.call_key is null), "
        "count(*) filter (where t.call_key is not null and "
        f"row({left}) is distinct from row({right})) "
        f'from _changed c left join main."{name}" t using (call_key) group by 1').fetchall()
    for provider, new, updated in rows:
        report.new[provider] = int(new)
        report.updated[provider] = int(updated)
