"""Every contract table and column says what it holds, inside the warehouse."""

from __future__ import annotations

from pathlib import Path

from tests.transforms.helpers import build, connect

CONTRACT_TABLES = ("calls", "calls_daily", "sip_configs", "active_calls", "calls_rejected",
                   "calls_unfinished", "calls_gaps", "call_checks")


def test_every_contract_table_and_column_has_a_comment(tmp_path: Path) -> None:
    with connect(tmp_path / "w.duckdb") as con:
        build(con)  # on no raw data: the stand-ins give every model its columns
        build(con, incremental=True)  # the rebuild of an existing warehouse keeps them too
        columns = con.execute(
            "select table_name, column_name, comment from duckdb_columns() "
            "where schema_name = 'main' and table_name in ? order by all",
            [list(CONTRACT_TABLES)]).fetchall()
        objects = dict(con.execute(
            "select table_name, comment from duckdb_tables() where schema_name = 'main' "
            "union all select view_name, comment from duckdb_views() "
            "where schema_name = 'main'").fetchall())
    assert {table for table, _, _ in columns} == set(CONTRACT_TABLES)
    assert [(t, c) for t, c, comment in columns if not comment] == []
    assert len(columns) >= 19 + 9 + 9 + 13 + 5 + 5 + 3 + 7
    assert all(objects.get(table) for table in CONTRACT_TABLES), objects


def test_every_object_a_build_makes_in_main_has_a_comment(tmp_path: Path) -> None:
    """A table or view added later without comments fails here, not in a user's BI tool."""
    with connect(tmp_path / "w.duckdb") as con:
        build(con)
        bare = con.execute(
            "select table_name, column_name from duckdb_columns() where schema_name = 'main' "
            "and not internal and (comment is null or comment = '') order by all").fetchall()
    assert bare == []
