"""The readers' copy (contract section 5): the contract's tables, beside the warehouse,
for BI tools and notebooks to open while syncs write the warehouse itself.

Warehouse `data/calls.duckdb` -> `data/published/calls.duckdb` (every contract table that
exists, views such as `calls_rejected` as tables, their comments kept) and
`data/published/calls/<table>.parquet`.

- Each file is written under a temporary name in the same folder (starting with `.`, not
  ending in `.parquet`, so globs skip it), flushed to disk, then renamed over the old one:
  a reader sees the old file or the new one, never half of one.
- A reader holding the old DuckDB file open (read-only or not) keeps its inode and its
  view until it reopens; the writer never waits for it. The Parquet files are each
  replaced atomically, but not together: read the DuckDB file for one consistent view.
- A Parquet file is replaced only when its table changed (a fingerprint of the rows it was
  written from is in its key-value metadata). The files are written from the new DuckDB
  copy's tables (a view is run once), before that copy replaces the last one.
- After a sync, the DuckDB copy starts from the last one and only the `calls` rows
  loaded since are replaced (checked against the warehouse by a hash over every row;
  written in full where they differ); `transform` and `callsync publish` write it in full.
- `[callsync] publish = false` (env `CALLSYNC__PUBLISH`) turns off publishing after a
  build; `callsync publish` writes the copy whatever it says.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import dlt
import duckdb
from dlt.common.configuration.exceptions import ConfigValueCannotBeCoercedException

from pipelines.lock import WarehouseLock
from pipelines.memory import roomier
from pipelines.transform import table_exists
from pipelines.warehouse import connect
from sources._http import ConfigError

log = logging.getLogger("callsync.readers")

# the contract's tables, in the order they are written; those that do not exist (yet) are
# left out: section 7's come with later builds
TABLES = ("calls", "calls_daily", "sip_configs", "active_calls", "calls_rejected", "sync_runs",
          "calls_unfinished", "calls_gaps", "call_checks")
ALIAS = "_published"


class PublishError(Exception):
    """The readers' copy could not be written (the warehouse itself is unharmed)."""


@dataclass
class Published:
    """What one publish wrote."""

    database: Path
    folder: Path
    tables: list[str] = field(default_factory=list)


def enabled() -> bool:
    """`[callsync] publish` (env `CALLSYNC__PUBLISH`): true unless set false.

    Raises:
        ConfigError: The value is not a boolean.
    """
    try:
        value = dlt.config.get("callsync.publish", bool)
    except ConfigValueCannotBeCoercedException:
        raise ConfigError("callsync", "[callsync] publish (env CALLSYNC__PUBLISH) must be "
                          "true or false") from None
    return value is None or bool(value)


def paths(warehouse: Path) -> tuple[Path, Path]:
    """The published DuckDB file and Parquet folder of `warehouse`."""
    folder = warehouse.parent / "published"
    return folder / warehouse.name, folder / warehouse.stem


def publish(con: duckdb.DuckDBPyConnection, warehouse: Path,
            incremental: bool = False) -> Published:
    """Write the readers' copy of the warehouse `con` is connected to.

    Args:
        con: A connection to `warehouse` (the caller holds the writer's lock).
        warehouse: The warehouse file, which names the copy.
        incremental: Start the DuckDB copy from the last one and replace only the `calls`
            rows loaded since (after a sync; a full rebuild may change any row). The
            result is checked against the warehouse, and written in full where it differs.

    Raises:
        PublishError: A file could not be written (one line saying where and why).
    """
    database, folder = paths(warehouse)
    out = Published(database, folder,
                    [t for t in TABLES if table_exists(con, "main", t)])
    if not out.tables:
        return out
    try:
        folder.mkdir(parents=True, exist_ok=True)

        def write() -> None:  # whole files, each replaced atomically: safe to repeat
            sums: dict[str, tuple[object, ...]] = {}  # the copy's tables, hashed once

            def parquet() -> None:  # from the copy's tables: each view is run once
                for table in out.tables:
                    _write_parquet(con, folder / f"{table}.parquet", table, sums)

            _write_database(con, database, out.tables, incremental, sums, parquet)

        roomier(con, write)
    except (OSError, duckdb.Error) as exc:
        raise PublishError(_reason(exc, database.parent)) from None
    log.debug("published %s -> %s", ", ".join(out.tables), database)
    return out


def publish_quietly(warehouse: Path) -> str | None:
    """Publish after a sync's build: the one-line error (also logged), or None."""
    try:
        with connect(warehouse) as con:
            publish(con, warehouse, incremental=True)
    except PublishError as exc:  # the sync's data stays loaded: exit 1, one line
        log.error("failed: %s", exc)
        return str(exc)
    return None


def publish_logged(con: duckdb.DuckDBPyConnection, warehouse: Path) -> bool:
    """Publish after `callsync transform`'s build: False when it failed (the one-line
    reason logged)."""
    try:
        publish(con, warehouse)
    except PublishError as exc:
        log.error("failed: %s", exc)
        return False
    return True


def publish_now(warehouse: Path) -> Published:
    """`callsync publish`: hold the writer's lock and write the copy.

    Raises:
        WarehouseBusy: Another callsync is writing the warehouse.
        PublishError: A file could not be written.
    """
    with WarehouseLock(warehouse), connect(warehouse) as con:
        return publish(con, warehouse)


def _write_database(con: duckdb.DuckDBPyConnection, target: Path, tables: list[str],
                    incremental: bool, sums: dict[str, tuple[object, ...]],
                    then: Callable[[], None]) -> None:
    """Write the DuckDB copy; `then()` runs once its tables are written, while it is still
    attached (as `_published`), before it replaces the last one."""
    def write(tmp: Path) -> None:
        reuse = incremental and "calls" in tables and target.is_file()
        if reuse:  # a byte copy of the last one: only the changed `calls` rows are written
            shutil.copyfile(target, tmp)
        con.execute(f"attach {_literal(str(tmp))} as {ALIAS}")
        try:
            if reuse and not _update_calls(con, sums):
                con.execute(f"detach {ALIAS}")
                tmp.unlink()
                con.execute(f"attach {_literal(str(tmp))} as {ALIAS}")
                reuse = False
            for table in tables:
                if not (reuse and table == "calls"):
                    con.execute(f'create or replace table {ALIAS}.main."{table}" as '
                                f'select * from main."{table}"')
            for (gone,) in con.execute(
                    "select table_name from duckdb_tables() where database_name = ? "
                    "and schema_name = 'main'", [ALIAS]).fetchall():
                if gone not in tables:
                    con.execute(f'drop table {ALIAS}.main."{gone}"')
            _copy_comments(con, tables)
            then()
            con.execute(f"checkpoint {ALIAS}")
        finally:
            con.execute(f"detach database if exists {ALIAS}")

    _replace(target, write)


def _update_calls(con: duckdb.DuckDBPyConnection, sums: dict[str, tuple[object, ...]]) -> bool:
    """Bring the last copy's `calls` up to date: its rows whose call has a row loaded since
    (`synced_at` after the copy's newest, per provider) are replaced. True when the result
    equals the warehouse's `calls` (row count and a hash over every row and column); False
    (the caller then writes `calls` in full) when it does not, or the columns differ.
    `sums` keeps the copy's hash.
    """
    def shape(database: str) -> list[tuple[object, ...]]:
        return con.execute("select column_name, data_type from duckdb_columns() where "
                           "database_name = ? and schema_name = 'main' and table_name = 'calls' "
                           "order by column_index", [database]).fetchall()

    here = con.execute("select current_database()").fetchone()
    if not here or shape(ALIAS) != shape(str(here[0])):
        return False
    con.execute(
        "create or replace temp table _publish_changed as select c.* from main.calls c "
        "left join (select provider, max(synced_at) as mark from "
        f"{ALIAS}.main.calls group by provider) m on m.provider = c.provider "
        "where m.mark is null or c.synced_at > m.mark")
    con.execute(f"delete from {ALIAS}.main.calls where call_key in "
                "(select call_key from _publish_changed)")
    con.execute(f"insert into {ALIAS}.main.calls select * from _publish_changed")
    changed = con.execute("select count(*) from _publish_changed").fetchone()
    con.execute("drop table _publish_changed")
    same = _sums(con, "calls", sums) == _sums(con, "calls", warehouse=True)
    if not same:
        sums.pop("calls")  # the copy's `calls` is written again
    log.debug("published calls: %d rows loaded since the last copy replaced%s",
              changed[0] if changed else 0,
              "" if same else "; the copy still differs from the warehouse: written in full")
    return same


def _write_parquet(con: duckdb.DuckDBPyConnection, target: Path, table: str,
                   sums: dict[str, tuple[object, ...]]) -> None:
    """Write the copy's `table` to `target`, unless `target` already holds it: each file
    carries the fingerprint of the rows it was written from, so an unchanged table (most
    of them after a no-op sync) is not rewritten."""
    mark = _fingerprint(con, table, sums)
    if target.is_file() and _written_from(con, target) == mark:
        log.debug("published %s.parquet: unchanged", table)
        return

    def write(tmp: Path) -> None:
        con.execute(f'copy (select * from {ALIAS}.main."{table}") to {_literal(str(tmp))} '
                    f"(format parquet, compression zstd, row_group_size {PARQUET_ROWS}, "
                    f"kv_metadata {{{FINGERPRINT}: {_literal(mark)}}})")

    _replace(target, write)


FINGERPRINT = "callsync_fingerprint"
# rows per Parquet row group: the writer holds one per thread before compressing it, and
# DuckDB's default (122,880) outgrew the working cap (1M calls under 128MB: 0.98 s, 1.8
# CPU-s, 220 MiB peak; with 30,720: 0.49 s, 0.9 CPU-s, 138 MiB, a file 6.5 % larger)
PARQUET_ROWS = 30_720


def _fingerprint(con: duckdb.DuckDBPyConnection, table: str,
                 sums: dict[str, tuple[object, ...]]) -> str:
    """The copy's columns (names and types), row count and sum of hashes over every row."""
    columns = con.execute(f'select * from {ALIAS}.main."{table}" limit 0').description or []
    shape = hashlib.sha256(repr([(c[0], str(c[1])) for c in columns]).encode()).hexdigest()
    count, total = _sums(con, table, sums)
    return f"{shape[:16]}:{count}:{total}"


def _sums(con: duckdb.DuckDBPyConnection, table: str,
          sums: dict[str, tuple[object, ...]] | None = None,
          warehouse: bool = False) -> tuple[object, ...]:
    """Row count and sum of row hashes of the copy's `table` (kept in `sums`: the check of
    `calls` and its Parquet file's fingerprint both ask, ~0.09 s a time at 1M calls), or
    of the warehouse's."""
    if sums is not None and table in sums:
        return sums[table]
    where = "main" if warehouse else f"{ALIAS}.main"
    row = con.execute(f'select count(*), sum(hash(*columns(*))) from {where}."{table}"').fetchone()
    found = tuple(row) if row else (0, None)
    if sums is not None:
        sums[table] = found
    return found


def _written_from(con: duckdb.DuckDBPyConnection, target: Path) -> str | None:
    """The fingerprint a Parquet file was written with, or None (older, or unreadable)."""
    try:
        row = con.execute("select value::varchar from parquet_kv_metadata(?) where "
                          "key::varchar = ?", [str(target), FINGERPRINT]).fetchone()
    except duckdb.Error:
        return None
    return str(row[0]) if row else None


def _copy_comments(con: duckdb.DuckDBPyConnection, tables: list[str]) -> None:
    """The warehouse's COMMENT ONs of these tables (and views) and their columns."""
    here = con.execute("select current_database()").fetchone()
    database = here[0] if here else "memory"
    found = con.execute(
        "select table_name, comment from duckdb_tables() where database_name = ? "
        "and schema_name = 'main' and comment is not null "
        "union all select view_name, comment from duckdb_views() where database_name = ? "
        "and schema_name = 'main' and comment is not null", [database, database]).fetchall()
    for table, text in found:
        if table in tables and text:
            con.execute(f'comment on table {ALIAS}.main."{table}" is {_literal(text)}')
    for table, column, text in con.execute(
            "select table_name, column_name, comment from duckdb_columns() "
            "where database_name = ? and schema_name = 'main' and comment is not null",
            [database]).fetchall():
        if table in tables and text:
            con.execute(f'comment on column {ALIAS}.main."{table}"."{column}" '
                        f"is {_literal(text)}")


def _replace(target: Path, write: Callable[[Path], None]) -> None:
    """Call `write(tmp)` for a temporary file beside `target`, then rename it over `target`."""
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    leftovers = (tmp, tmp.with_name(tmp.name + ".wal"))
    for path in leftovers:
        path.unlink(missing_ok=True)
    try:
        write(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)  # on disk before the rename makes it the published file
        finally:
            os.close(fd)
        os.replace(tmp, target)
    finally:
        for path in leftovers:
            path.unlink(missing_ok=True)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _reason(exc: BaseException, folder: Path) -> str:
    text = str(exc).strip().splitlines()
    detail = text[0] if text else type(exc).__name__
    if isinstance(exc, PermissionError) or "ermission denied" in detail:
        detail = "permission denied"
    return (f"the readers' copy in {folder} was not written ({detail}): make sure that "
            "folder can be written, or set [callsync] publish = false; the warehouse itself "
            "is loaded")
