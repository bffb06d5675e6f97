"""The SQL runner: `transforms/macros` -> `staging` (views) -> `marts` (tables), in order,
then `transforms/comments.sql` (what each contract table and column holds).

SQL files are plain DuckDB SQL. `{{ raw_<slug>.<table> }}` names a raw table; where it
does not exist yet (a provider never synced), an empty relation of the raw table's
declared columns stands in, so every model builds on any warehouse. The only values
formatted into SQL are instants the warehouse itself returned (`instant`: constants, so
that zone maps prune); the other substitutions are identifiers from this project's files.

`calls` is built incrementally after a sync: only the raw rows that arrived after the
provider's newest `synced_at` in `calls` are read, and each call they name is decided
between them and its current row in `calls` (`{{ previous_calls }}` in `calls.sql`: that
row won over every older raw row of the call), then replaced.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import duckdb

from pipelines import checks
from pipelines.failpoints import failpoint

log = logging.getLogger("callsync.transform")

TRANSFORMS = Path(__file__).resolve().parent.parent / "transforms"
RAW_REF = re.compile(r"\{\{\s*(raw_\w+)\.(\w+)\s*\}\}")
STAGING_REF = re.compile(r"\bstaging\.(stg_\w+)")
FIRST_MARTS = ("calls",)  # built before the marts that read them
COMMENTS = TRANSFORMS / "comments.sql"  # `comment on` every contract table and column


@dataclass
class BuildReport:
    """What a build changed in `calls`, per provider."""

    new: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


PREVIOUS_REF = re.compile(r"\{\{\s*previous_calls\s*\}\}")
NO_PREVIOUS = "(select cast(null as varchar) as call_key where false)"
MATERIALIZED = re.compile(r"^-- materialized: (\w+)", re.MULTILINE)
CALLS_REF = re.compile(r"\bfrom calls\b")


def materialized(sql: str) -> str:
    """`table` unless the model's header says `view`, `incremental` or `daily`."""
    found = MATERIALIZED.search(sql)
    return found.group(1) if found else "table"


def render(
    sql: str, con: duckdb.DuckDBPyConnection, raw_columns: Mapping[str, str],
    scope: Mapping[str, str] | None = None,
) -> str:
    """Replace `{{ raw_x.t }}` with the table, or an empty typed stand-in if it is missing.

    `scope` maps a raw table to a relation read instead (the incremental build's new rows).
    """

    def replace(match: re.Match[str]) -> str:
        schema, table = match.group(1), match.group(2)
        if table_exists(con, schema, table):
            return (scope or {}).get(f"{schema}.{table}") or f'"{schema}"."{table}"'
        columns = raw_columns.get(f"{schema}.{table}")
        if columns is None:
            raise KeyError(f"no declared columns for missing raw table {schema}.{table}")
        return f"(select {columns} where false)"

    return RAW_REF.sub(replace, sql)


def with_previous(sql: str, relation: str = NO_PREVIOUS) -> str:
    """`{{ previous_calls }}` as `relation`: the current `calls` rows an incremental build
    weighs against the new raw rows; none in a full build."""
    return PREVIOUS_REF.sub(relation, sql)


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
    """Build every model; with `incremental`, `calls` only for keys with new raw rows.

    Then the data-quality rules run over `calls` into `call_checks` (`pipelines.checks`).
    """
    con.execute("set TimeZone = 'UTC'")
    con.execute("create schema if not exists staging")
    report = BuildReport()
    for path in models("macros"):
        con.execute(path.read_text())
    for path in models("staging"):
        sql = render(path.read_text(), con, raw_columns)
        con.execute(f'create or replace view staging."{path.stem}" as {sql}')
    con.execute("begin transaction")  # the marts change together, or not at all
    try:
        days = False
        for path in models("marts"):
            sql = render(path.read_text(), con, raw_columns)
            kind = materialized(sql)
            if kind == "view":
                con.execute(f'create or replace view main."{path.stem}" as {sql}')
            elif kind == "incremental":
                days = _build_incremental(con, path.stem, sql, report, incremental,
                                          raw_columns)
            elif kind == "daily" and days and _table_exists(con, path.stem):
                _build_days(con, path.stem, sql)
            else:
                con.execute(f'create or replace table main."{path.stem}" as {sql}')
        con.execute(COMMENTS.read_text())  # a rebuilt table has lost its comments
        failpoint("during_build")
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    checks.run(con)  # `call_checks` describes the calls just built
    return report


def _build_days(con: duckdb.DuckDBPyConnection, name: str, sql: str) -> None:
    """Rebuild only the days of `name` that hold a changed call (`_days`).

    `calls` is kept in `started_at` order, so the constant bounds of the days let DuckDB's
    zone maps skip every row group outside them instead of reading the whole table.
    """
    found = con.execute("select min(day), max(day) from _days").fetchone()
    if not found or found[0] is None:
        return
    low, high = (datetime.combine(day, time(), UTC) for day in (found[0], found[1]))
    scoped = CALLS_REF.sub(
        "from (select * from main.calls "
        f"where started_at >= {instant(low)} "
        f"and started_at < {instant(high + timedelta(days=1))} "
        "and cast(timezone('UTC', started_at) as date) in (select day from _days)) as calls",
        sql)
    con.execute(f'delete from main."{name}" where day in (select day from _days)')
    con.execute(f'insert into main."{name}" by name select * from ({scoped})')


def instant(value: datetime) -> str:
    """A timestamp the warehouse returned, as a SQL constant (exact to the microsecond)."""
    return f"timestamptz '{value.isoformat()}'"


def table_exists(
    con: duckdb.DuckDBPyConnection, schema: str, table: str, base_table: bool = False
) -> bool:
    """Whether `schema.table` exists (with `base_table`, as a table, not a view)."""
    found = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? "
        "and table_name = ? and (not ? or table_type = 'BASE TABLE')",
        [schema, table, base_table]).fetchone()
    return bool(found and found[0])


def _table_exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return table_exists(con, "main", name, base_table=True)


def _build_incremental(
    con: duckdb.DuckDBPyConnection, name: str, sql: str, report: BuildReport,
    incremental: bool, raw_columns: Mapping[str, str],
) -> bool:
    """Replace the rows of `name` whose key has raw rows newer than the table's mark.

    Returns:
        True when the build was incremental and `_days` holds the UTC days it touched.
    """
    scoped_build = incremental and _table_exists(con, name)
    if scoped_build:
        keys = _scope_to_new_rows(con, name, raw_columns)
        _old_rows(con, name, keys)
        scoped = STAGING_REF.sub(lambda m: f'"_scope_{m.group(1)}"', sql)
        con.execute("create or replace temp table _changed as "
                    + with_previous(scoped, "(select * exclude (_row) from _old)"))
        con.execute(
            "create or replace temp table _days as select distinct "
            "cast(timezone('UTC', started_at) as date) as day from ("
            "select started_at from _changed union all select started_at from _old)")
        _count_changes(con, name, "_old", report)
        con.execute(f'delete from main."{name}" where rowid in (select _row from _old)')
        con.execute(f'insert into main."{name}" select * from _changed order by started_at')
    elif not _table_exists(con, name):  # the first build: every call is new
        con.execute(f'create table main."{name}" as select * from ({with_previous(sql)}) '
                    "order by started_at")
        for provider, new in con.execute(
                f'select provider, count(*) from main."{name}" group by 1').fetchall():
            report.new[provider], report.updated[provider] = int(new), 0
    else:
        con.execute(f"create or replace temp table _changed as {with_previous(sql)}")
        _count_changes(con, name, f'main."{name}"', report)
        con.execute(f'create or replace table main."{name}" as '
                    "select * from _changed order by started_at")
    return scoped_build


def _old_rows(con: duckdb.DuckDBPyConnection, name: str, keys: str) -> None:
    """Temp table `_old`: the rows of `name` (with their `rowid`) of the call keys `keys`
    names, which compete with the new raw rows and which they replace.

    The one scan of the whole table reads only `call_key` (and `started_at`): the rows
    themselves are then fetched between the first and last of those starts, bound as
    constants, so zone maps skip every other row group (`calls` is kept in `started_at`
    order). Reading every column of 10M rows for the join cost ~1 s; this ~0.35 s.
    """
    con.execute(f'create or replace temp table _hits as select rowid as _row, started_at '
                f'from main."{name}" where call_key in ({keys})')
    found = con.execute("select min(started_at), max(started_at) from _hits").fetchone()
    low, high = found if found else (None, None)
    con.execute(f'create or replace temp table _old as select rowid as _row, * from '
                f'main."{name}" where started_at between ? and ? '
                "and rowid in (select _row from _hits)", [low, high])


def _scope_to_new_rows(
    con: duckdb.DuckDBPyConnection, name: str, raw_columns: Mapping[str, str]
) -> str:
    """Temp views `_scope_<view>`: each staging view of `calls`, reading only the raw rows
    fetched after their provider's newest `synced_at` in `name` (the marks are constants,
    so zone maps on `fetched_at` skip the older row groups). Returns a query of the call
    keys those rows name.
    """
    marks = dict(con.execute(
        f'select provider, max(synced_at) from main."{name}" group by 1').fetchall())
    views = _calls_staging_views()
    for view in views:
        slug = view.removeprefix("stg_").split("__")[0]
        sql = (TRANSFORMS / "staging" / f"{view}.sql").read_text()
        mark = marks.get(slug)
        scope = {} if mark is None else {  # no mark: every row is new, the tables themselves
            f"{schema}.{table}": f'(select * from "{schema}"."{table}" '
                                 f"where fetched_at > {instant(mark)})"
            for schema, table in RAW_REF.findall(sql)}
        scoped = render(sql, con, raw_columns, scope)
        con.execute(f'create or replace temp view "_scope_{view}" as {scoped}')
    return " union ".join(f'select call_key from "_scope_{view}" where reject_reason is null'
                          for view in views)


def _calls_staging_views() -> list[str]:
    """The staging views `calls.sql` reads (its one branch per provider)."""
    calls_sql = (TRANSFORMS / "marts" / "calls.sql").read_text()
    return sorted(set(STAGING_REF.findall(calls_sql)))


def _count_changes(
    con: duckdb.DuckDBPyConnection, name: str, old: str, report: BuildReport,
) -> None:
    """New and updated calls per provider: `_changed` against the `old` rows of `name`."""
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
        f"from _changed c left join {old} t using (call_key) group by 1").fetchall()
    for provider, new, updated in rows:
        report.new[provider] = int(new)
        report.updated[provider] = int(updated)
