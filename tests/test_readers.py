"""The readers' copy: `published/` beside the warehouse, readable while syncs run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from pipelines.lock import WarehouseLock
from simulator.server import Simulator
from tests.cli.helpers import callsync
from tests.conftest import configure, query

CONTRACT = ["active_calls", "call_checks", "calls", "calls_daily", "calls_gaps",
            "calls_rejected", "calls_unfinished", "sip_configs", "sync_runs"]

# A BI tool in miniature: opens the published file read-only, counts, starts a query and
# reads its first row, says so on stdout, then waits for the test's go on stdin before
# reading the rest of that query and counting again on the same connection. (No progress
# bar: DuckDB draws one on stdout when a query has been open for 2 s.)
READER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
con.execute("set enable_progress_bar = false")
print(con.execute("select count(*) from calls").fetchone()[0], flush=True)
mid = con.execute("select call_key from calls")
first = mid.fetchmany(1)
print("reading", flush=True)
sys.stdin.readline()
print(len(first) + len(mid.fetchall()), flush=True)
print(con.execute("select count(*) from calls").fetchone()[0], flush=True)
"""


def published(warehouse: Path) -> Path:
    return warehouse.parent / "published" / warehouse.name


def columns(path: Path) -> list[tuple[object, ...]]:
    return query(path, "select table_name, column_name, data_type from duckdb_columns() "
                       f"where schema_name = 'main' and table_name in {tuple(CONTRACT)} "
                       "order by all")


def test_a_reader_holding_the_copy_open_never_stops_a_sync(
    sim: Simulator, warehouse: Path, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, sim, "unpod")
    assert callsync("sync", cwd=isolated).code == 0
    copy = published(warehouse)
    old = query(copy, "select count(*) from calls")[0][0]
    assert old == query(warehouse, "select count(*) from calls")[0][0] > 0

    reader = subprocess.Popen([sys.executable, "-c", READER, str(copy)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert reader.stdout and reader.stdin
        assert int(reader.stdout.readline()) == old
        assert reader.stdout.readline().strip() == "reading"  # open, mid-query

        sim.providers["unpod"].add_calls(5)
        run = callsync("sync", cwd=isolated, timeout=60)  # a wait on the reader would hang
        assert run.code == 0, run.err

        reader.stdin.write("go\n")
        reader.stdin.flush()
        assert int(reader.stdout.readline()) == old  # the rest of its query: old rows
        assert int(reader.stdout.readline()) == old  # and its connection's view
        assert reader.wait(timeout=60) == 0
    finally:
        if reader.poll() is None:
            reader.kill()
            reader.wait()

    assert query(copy, "select count(*) from calls")[0][0] == old + 5  # opened afresh
    cli = Path(sys.executable).parent / "duckdb"
    shown = subprocess.run([str(cli), "-readonly", str(copy), "-csv", "-noheader", "-c",
                            "select count(*) from calls"], capture_output=True, text=True,
                           timeout=60, check=False)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == str(old + 5)
    parquet = copy.parent / warehouse.stem / "calls.parquet"
    assert query(copy, f"select count(*) from '{parquet}'")[0][0] == old + 5


def test_the_copy_holds_the_contract_tables_with_their_columns_and_comments(
    sim: Simulator, warehouse: Path, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, sim, "bland")
    assert callsync("sync", cwd=isolated).code == 0
    copy = published(warehouse)
    kinds = query(copy, "select table_name, table_type from information_schema.tables "
                        "order by 1")
    assert kinds == [(t, "BASE TABLE") for t in CONTRACT]  # the view too, as a table
    assert columns(copy) == columns(warehouse)
    for table in CONTRACT:
        same = f"select * from {table} except select * from read_parquet(?)"
        folder = copy.parent / warehouse.stem
        assert query(copy, same, [str(folder / f"{table}.parquet")]) == []
        assert query(copy, f"select count(*) from {table}") == \
            query(warehouse, f"select count(*) from {table}")
    comments = query(copy, "select column_name, comment from duckdb_columns() "
                           "where table_name = 'sync_runs'")
    assert comments and all(text for _, text in comments)
    assert comments == query(warehouse, "select column_name, comment from duckdb_columns() "
                                        "where table_name = 'sync_runs'")
    files = sorted(p.name for p in copy.parent.rglob("*"))
    assert files == sorted(["calls.duckdb", "calls", *(f"{t}.parquet" for t in CONTRACT)])


def test_transform_and_publish_write_the_copy_and_the_setting_turns_it_off(
    sim: Simulator, warehouse: Path, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, sim, "unpod")
    monkeypatch.setenv("CALLSYNC__PUBLISH", "false")
    assert callsync("sync", cwd=isolated).code == 0
    folder = warehouse.parent / "published"
    assert not folder.exists()
    assert callsync("transform", cwd=isolated).code == 0
    assert not folder.exists()

    run = callsync("publish", cwd=isolated)  # asked for by name: written whatever the setting
    assert run.code == 0, run.err
    assert "sync_runs" in run.out and str(published(warehouse)) in run.out
    calls = query(warehouse, "select count(*) from calls")
    assert query(published(warehouse), "select count(*) from calls") == calls

    monkeypatch.delenv("CALLSYNC__PUBLISH")
    published(warehouse).unlink()
    assert callsync("transform", cwd=isolated).code == 0
    assert query(published(warehouse), "select count(*) from calls") == calls


def test_a_malformed_setting_fails_before_any_request(
    sim: Simulator, warehouse: Path, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, sim, "unpod")
    monkeypatch.setenv("CALLSYNC__PUBLISH", "sometimes")
    run = callsync("sync", cwd=isolated)
    assert run.code == 2
    assert run.err.strip().count("\n") == 0 and "CALLSYNC__PUBLISH" in run.err
    assert sim.requests == [] and not warehouse.exists()


def test_an_unwritable_copy_is_one_line_and_exit_1_with_the_data_loaded(
    sim: Simulator, warehouse: Path, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, sim, "unpod")
    warehouse.parent.mkdir(parents=True)
    (warehouse.parent / "published").write_text("not a folder")  # root ignores chmod

    run = callsync("sync", cwd=isolated)

    assert run.code == 1
    (line,) = run.err.strip().splitlines()
    assert line.startswith("failed: the readers' copy in ") and "publish = false" in line
    assert "Traceback" not in run.err
    assert query(warehouse, "select count(*) from calls")[0][0] > 0
    assert query(warehouse, "select status from sync_runs") == [("ok",)]
    again = callsync("publish", cwd=isolated)
    assert again.code == 1 and len(again.err.strip().splitlines()) == 1


def test_publish_needs_a_warehouse_and_waits_for_no_writer(
    sim: Simulator, warehouse: Path, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = callsync("publish", cwd=isolated)
    assert missing.code == 2 and "run `callsync sync` to create it" in missing.err
    configure(monkeypatch, sim, "unpod")
    assert callsync("sync", cwd=isolated).code == 0
    with WarehouseLock(warehouse):
        busy = callsync("publish", cwd=isolated)
    assert busy.code == 2 and "another callsync is writing" in busy.err


def same_calls(a: Path, b: Path) -> bool:
    with duckdb.connect(str(a), read_only=True) as con:
        con.execute(f"attach '{b}' as other (read_only)")
        return con.execute("select count(*) from ((select * from calls except all "
                           "select * from other.calls) union all (select * from other.calls "
                           "except all select * from calls))").fetchone() == (0,)


def test_after_a_sync_only_the_new_calls_are_written_and_checked(
    sim: Simulator, warehouse: Path, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, sim, "unpod")
    assert callsync("sync", cwd=isolated).code == 0
    copy = published(warehouse)
    sim.providers["unpod"].add_calls(4)
    run = callsync("--debug", "sync", cwd=isolated)
    assert run.code == 0, run.err
    assert "rows loaded since the last copy replaced\n" in run.out  # reused, and equal
    assert same_calls(warehouse, copy)
    assert query(copy, "select count(*) from sync_runs") == [(2,)]

    with duckdb.connect(str(copy)) as con:  # a copy that drifted (edited by hand)
        con.execute("update calls set duration_seconds = duration_seconds + 1 "
                    "where call_key = (select min(call_key) from calls)")
    assert not same_calls(warehouse, copy)
    run = callsync("--debug", "sync", cwd=isolated)
    assert run.code == 0, run.err
    assert "the copy still differs from the warehouse: written in full" in run.out
    assert same_calls(warehouse, copy)


def test_a_parquet_file_is_rewritten_only_when_its_table_changed(
    sim: Simulator, warehouse: Path, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, sim, "unpod")
    assert callsync("sync", cwd=isolated).code == 0
    folder = warehouse.parent / "published" / warehouse.stem

    def inodes() -> dict[str, int]:
        return {path.stem: path.stat().st_ino for path in folder.glob("*.parquet")}

    before = inodes()
    assert callsync("publish", cwd=isolated).code == 0
    assert inodes() == before  # nothing changed: no file replaced

    run = callsync("--debug", "sync", cwd=isolated)  # a new sync_runs row
    assert run.code == 0, run.err
    after = inodes()
    assert after["sync_runs"] != before["sync_runs"]
    assert after["sip_configs"] == before["sip_configs"]
    assert "published sip_configs.parquet: unchanged" in run.out

    stale = folder / "calls_daily.parquet"  # written by hand, or by an older callsync
    with duckdb.connect() as con:
        con.execute(f"copy (select 1 as day) to '{stale}' (format parquet)")
    assert callsync("publish", cwd=isolated).code == 0
    # rewritten: it holds the table again (not told by its inode, which the file system
    # may hand from the hand-written file to the new one)
    for table in ("calls", "calls_daily", "sync_runs"):
        assert (query(warehouse, f"select count(*), sum(hash(*columns(*))) from {table}")
                == query(warehouse, "select count(*), sum(hash(*columns(*))) from "
                                    f"'{folder / (table + '.parquet')}'"))
