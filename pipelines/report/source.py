"""Which file the dashboard reads, opened read-only: the readers' copy where there is one."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from pipelines import readers
from pipelines.transform import table_exists
from pipelines.warehouse import connect, engine, missing


class ReportError(Exception):
    """A report that cannot be written, for a reason the user can fix (one line)."""


def source_path(warehouse: Path) -> Path:
    """The readers' copy where it exists (it can be read while a sync writes), else the
    warehouse itself."""
    published = readers.paths(warehouse)[0]
    return published if published.is_file() else warehouse


@contextmanager
def open_source(warehouse: Path) -> Iterator[tuple[Path | str, duckdb.DuckDBPyConnection]]:
    """The file to read and a read-only connection to it, in UTC (on Postgres: the
    database's name and a session that runs the panels' DuckDB SQL).

    Raises:
        ReportError: there is no warehouse, no call in it yet, or it cannot be opened.
    """
    if engine() == "postgres":
        from pipelines.engines import postgres

        with postgres.report_source() as (where, session):
            _check_calls(session, where)  # type: ignore[arg-type]
            yield where, session  # type: ignore[misc]
        return
    path = source_path(warehouse)
    if not path.is_file():
        raise ReportError(missing(warehouse))
    try:
        con = connect(path, read_only=True)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise ReportError(
                f"{path} is being written by another process (a sync?): run `callsync "
                "report` again when it ends, or let sync publish a readers' copy") from None
        raise ReportError(f"cannot read {path}: {first_line(exc)}") from None
    except duckdb.Error as exc:
        raise ReportError(f"cannot read {path}: {first_line(exc)}") from None
    try:
        _check_calls(con, path)
        yield path, con
    finally:
        con.close()


def _check_calls(con: duckdb.DuckDBPyConnection, where: Path | str) -> None:
    con.execute("set TimeZone = 'UTC'")
    if not (table_exists(con, "main", "calls") and table_exists(con, "main", "calls_daily")
            and scalar(con, "select count(*) from calls")):
        raise ReportError(f"{where} holds no calls yet: run `callsync sync` first")


def first_line(exc: BaseException) -> str:
    """An exception's message, first line only."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def scalar(con: duckdb.DuckDBPyConnection, sql: str) -> Any:
    """The first value of the first row of `sql`, or None."""
    row = con.execute(sql).fetchone()
    return row[0] if row else None


def rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    """Every row of `sql` as a dict by column name."""
    cursor = con.execute(sql)
    names = [d[0] for d in cursor.description or []]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
