"""The build of `calls` (`materialized: incremental`), inside `transform.build`'s
transaction: from every raw row the first time, one provider at a time; then, on each
sync, only for the calls named by raw rows fetched after their provider's mark
(`staging.calls_marks`), each new row against the call's current one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import duckdb

from pipelines.transform import (
    CALLS_STAGING,
    BuildReport,
    Context,
    instant,
    render,
    table_exists,
)

# per provider, the newest raw fetch the incremental build of `calls` has read (internal)
MARKS_TABLE = "calls_marks"
MARKS = f"staging.{MARKS_TABLE}"


def build(
    con: duckdb.DuckDBPyConnection, name: str, sql: str, report: BuildReport,
    incremental: bool, ctx: Context,
) -> bool:
    """Build `name` (`calls`): where it does not exist, from every raw row
    (`_first_build`); with `incremental`, replace only the rows of the calls named by raw
    rows newer than their provider's mark, a call whose row would not change kept as it
    is; else rebuilt in full from every raw row.

    Returns:
        True when the build was incremental and `_days` holds the UTC days it touched.
    """
    exists = table_exists(con, "main", name, base_table=True)
    scoped_build = incremental and exists
    if scoped_build:
        _stage_new_rows(con, name, ctx)
        _old_rows(con, name, "select call_key from _staged_new where reject_reason is null")
        scoped = render(sql, Context(con, ctx.raw_columns, {
            f"staging.{CALLS_STAGING}": "_staged_new",
            "previous_calls": "(select * exclude (_row) from _old)"}))
        con.execute(f"create or replace temp table _changed as {scoped}")
        compared = _compared(con, name)
        _drop_unchanged(con, compared)
        con.execute(
            "create or replace temp table _days as select distinct "
            "cast(timezone('UTC', started_at) as date) as day from ("
            "select started_at from _changed union all select started_at from _old)")
        _count_changes(con, compared, "_old", report)
        con.execute(f'delete from main."{name}" where rowid in (select _row from _old)')
        con.execute(f'insert into main."{name}" select * from _changed order by started_at')
        _store_marks(con, "_staged_new")
    elif not exists:  # the first build: every call is new
        _first_build(con, name, sql, ctx)
        _mark_all(con, name)
        for provider, new in con.execute(
                f'select provider, count(*) from main."{name}" group by 1').fetchall():
            report.new[provider], report.updated[provider] = int(new), 0
    else:
        con.execute(f"create or replace temp table _changed as {render(sql, ctx)}")
        _count_changes(con, _compared(con, name), f'main."{name}"', report)
        con.execute(f'create or replace table main."{name}" as '
                    "select * from _changed order by started_at")
        _mark_all(con, name)
    return scoped_build


def _first_build(con: duckdb.DuckDBPyConnection, name: str, sql: str, ctx: Context) -> None:
    """Create `name` from every raw row, one provider's at a time.

    A call key never crosses providers (it starts with the slug), so each statement's
    dedup window and sort hold one provider's calls: the first build of 1M calls over four
    providers ran out of the 128MB working cap in one statement, and fits it in four
    (7.5 s, 334 MiB). Each provider's rows are in `started_at` order, so zone maps still
    skip the row groups outside a time range.
    """
    verb, total, careful = f'create table main."{name}" as', 0, False
    schemas = {schema for schema, _, table in (key.partition(".") for key in ctx.raw_columns)
               if table_exists(con, schema, table)}
    for slug in sorted(schema.removeprefix("raw_") for schema in schemas) or [""]:
        def only(schema: str, table: str, slug: str = slug) -> str:
            where = "" if schema == f"raw_{slug}" else " where false"
            return f'(select * from "{schema}"."{table}"{where})'

        scoped = render(sql, Context(con, ctx.raw_columns, ctx.bound, new_rows=only))
        with _one_thread(con, careful):
            found = con.execute(f"{verb} select * from ({scoped}) order by started_at").fetchone()
        verb = f'insert into main."{name}"'
        added = int(found[0]) if found else 0
        careful = careful or not added
        total += added
        _check_count(con, name, total)


@contextmanager
def _one_thread(con: duckdb.DuckDBPyConnection, inside: bool) -> Iterator[None]:
    """With `inside`, `con` on one thread inside, its thread count restored after.

    DuckDB 1.5.6 loses the rows that several threads insert into a table after an
    insert of no row into it in the same transaction (measured: the 1M SIPSIM calls
    inserted after an empty provider's were counted 0 by every later statement of the
    build, `calls_daily` came out empty; on one thread, or with no empty insert before,
    all were there). So after an empty insert, the first build inserts on one thread.
    """
    if not inside:
        yield
        return
    found = con.execute("select current_setting('threads')").fetchone()
    con.execute("set threads = 1")
    try:
        yield
    finally:
        con.execute(f"set threads = {int(found[0]) if found else 1}")


def _check_count(con: duckdb.DuckDBPyConnection, name: str, expected: int) -> None:
    """Fail the build (nothing is changed) unless `name` holds the `expected` rows its
    statements reported: never a silently short table."""
    found = con.execute(f'select count(*) from main."{name}"').fetchone()
    if not found or found[0] != expected:
        raise duckdb.InternalException(
            f"{name}: {expected} rows inserted but {found[0] if found else 0} found "
            "(a DuckDB fault); the build is undone, the raw data is kept")


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


def _stage_new_rows(con: duckdb.DuckDBPyConnection, name: str, ctx: Context) -> None:
    """Temp table `_staged_new`: `stg_calls` over only the raw rows fetched after their
    provider's mark (`_marks`; `raw_<slug>` is provider `<slug>`'s schema;
    the marks are constants, so zone maps on `fetched_at` skip the older row groups).
    """
    marks = _marks(con, name)

    def new_rows(schema: str, table: str) -> str:
        mark = marks.get(schema.removeprefix("raw_"))
        if mark is None:  # no mark: every row is new, the table itself
            return f'"{schema}"."{table}"'
        return f'(select * from "{schema}"."{table}" where fetched_at > {instant(mark)})'

    staged = render(f"{{{{ staging.{CALLS_STAGING} }}}}",
                    Context(con, ctx.raw_columns, new_rows=new_rows))
    con.execute(f"create or replace temp table _staged_new as select * from {staged}")


def _marks(con: duckdb.DuckDBPyConnection, name: str) -> dict[str, datetime]:
    """Per provider, the newest `fetched_at` of the raw rows `name` was built from."""
    _start_marks(con, name)
    return dict(con.execute(f"select provider, fetched_through from {MARKS}").fetchall())


def _start_marks(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Create `MARKS` where it does not exist yet, from the newest `synced_at` of each
    provider in `name` (what marked a build before the table existed); True if it did."""
    if table_exists(con, "staging", MARKS_TABLE, base_table=True):
        return False
    con.execute(f"create table {MARKS} "
                "(provider varchar primary key, fetched_through timestamptz not null)")
    _store_marks(con, f'main."{name}"')
    return True


def _mark_all(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """After a build of `name` from every raw row: each provider's mark up to its newest."""
    if not _start_marks(con, name):
        _store_marks(con, f'main."{name}"')


def _store_marks(con: duckdb.DuckDBPyConnection, rows: str) -> None:
    """Move each provider's mark up to the newest `synced_at` of `rows` (the raw rows just
    built, as staged, or the table built from all of them), in the build's transaction.

    The mark is kept apart from `calls.synced_at` because a call re-fetched unchanged
    keeps its row, and with it its older `synced_at` (`_drop_unchanged`).
    """
    con.execute(f"insert into {MARKS} select provider, max(synced_at) from {rows} "
                "where synced_at is not null group by 1 on conflict (provider) do update "
                "set fetched_through = greatest(fetched_through, excluded.fetched_through)")


def _drop_unchanged(con: duckdb.DuckDBPyConnection, compared: tuple[str, str]) -> None:
    """Take out of `_changed` and `_old` the calls whose new row equals their current row
    but for `synced_at`: their row in `calls` stays as it is, so a sync that re-fetches
    only unchanged calls (the lookback) writes no `calls` row, no `calls_daily` day and
    nothing in the readers' copy (the contract lets such a re-load keep `synced_at`).
    `compared`: `_compared`'s column lists."""
    left, right = compared
    con.execute("create or replace temp table _same as select c.call_key from _changed c "
                f"join _old t using (call_key) where row({left}) is not distinct from "
                f"row({right})")
    con.execute("delete from _changed where call_key in (select call_key from _same)")
    con.execute("delete from _old where call_key in (select call_key from _same)")


def _compared(con: duckdb.DuckDBPyConnection, name: str) -> tuple[str, str]:
    """Every column of `name` but `call_key` and `synced_at`, as `c.` and as `t.` lists."""
    columns = [row[0] for row in con.execute(
        "select column_name from information_schema.columns where table_schema = 'main' "
        "and table_name = ? and column_name not in ('call_key', 'synced_at') "
        "order by ordinal_position", [name]).fetchall()]
    return (", ".join(f'c."{c}"' for c in columns), ", ".join(f't."{c}"' for c in columns))


def _count_changes(
    con: duckdb.DuckDBPyConnection, compared: tuple[str, str], old: str, report: BuildReport,
) -> None:
    """New and updated calls per provider: `_changed` against the `old` rows (`compared`:
    `_compared`'s column lists)."""
    left, right = compared
    rows = con.execute(
        "select c.provider, count(*) filter (where t.call_key is null), "
        "count(*) filter (where t.call_key is not null and "
        f"row({left}) is distinct from row({right})) "
        f"from _changed c left join {old} t using (call_key) group by 1").fetchall()
    for provider, new, updated in rows:
        report.new[provider] = int(new)
        report.updated[provider] = int(updated)
