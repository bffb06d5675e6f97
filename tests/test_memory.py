"""DuckDB's memory caps (working cap, ceiling, loads) and what a sync gives back."""

from __future__ import annotations

import threading
from pathlib import Path

import dlt
import duckdb
import pytest

from pipelines import memory
from pipelines.warehouse import connect, destination, settings, working_limit
from simulator import Simulator
from sources._native import RAW_CALL_SCHEMA, records_table
from sources.sipsim.client import PAGE
from tests.cli.helpers import callsync_here
from tests.conftest import configure

# needs more than 4 MB of DuckDB's memory (a sort of 300k rows), far less than 512 MB
HUNGRY = ("create or replace table sorted as select i, md5(i::varchar) as h "
          "from range(300000) t(i) order by h")


def setting(con: duckdb.DuckDBPyConnection, name: str) -> str:
    found = con.execute("select current_setting(?)", [name]).fetchone()
    assert found
    return str(found[0])


def test_caps_default_and_follow_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    assert settings()["memory_limit"] == "128MB"
    assert settings(roomy=True)["memory_limit"] == "512MB"
    assert settings()["allocator_background_threads"] is True
    monkeypatch.setenv("CALLSYNC__WORKING_MEMORY_LIMIT", "200MB")
    assert working_limit() == "200MB"
    monkeypatch.setenv("CALLSYNC__MEMORY_LIMIT", "100MB")  # a ceiling below the working cap
    assert working_limit() == "100MB"
    monkeypatch.setenv("CALLSYNC__MEMORY_LIMIT", "1GiB")
    assert settings(roomy=True)["memory_limit"] == "1GiB"
    assert working_limit() == "200MB"


def test_loads_run_on_one_thread_under_the_load_cap(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    pipeline = dlt.pipeline("caps", destination=destination(path),
                            pipelines_dir=str(tmp_path / "dlt"), dataset_name="raw")
    pipeline.run([{"a": 1}], table_name="t")
    with pipeline.sql_client() as client:
        found = client.execute_sql("select current_setting('memory_limit'), "
                                   "current_setting('threads')")
    assert found == [("61.0 MiB", 1)]  # DuckDB's way of saying 64MB


def test_roomier_runs_again_under_the_ceiling_then_restores_the_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CALLSYNC__WORKING_MEMORY_LIMIT", "4MB")
    with connect(tmp_path / "w.duckdb") as con:
        with pytest.raises(duckdb.OutOfMemoryException):
            con.execute(HUNGRY)
        memory.roomier(con, lambda: con.execute(HUNGRY))
        assert con.execute("select count(*) from sorted").fetchone() == (300000,)
        assert setting(con, "memory_limit") == "3.8 MiB"  # the working cap again


def test_roomier_raises_when_the_ceiling_is_the_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CALLSYNC__MEMORY_LIMIT", "4MB")
    with connect(tmp_path / "w.duckdb") as con, pytest.raises(duckdb.OutOfMemoryException):
        memory.roomier(con, lambda: con.execute(HUNGRY))


@pytest.mark.parametrize("through", ["own", "shared"])
def test_a_load_out_of_memory_is_finished_under_the_ceiling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, through: str,
) -> None:
    # "shared": dlt works through one open connection (as a sync's providers do), so the
    # ceiling is set on it, not given to a second opening of the file (DuckDB refuses
    # that with other settings)
    monkeypatch.setenv("CALLSYNC__WORKING_MEMORY_LIMIT", "4MB")
    monkeypatch.setenv("LOAD__RAISE_ON_MAX_RETRIES", "1")
    # no spilling under the working cap: the load must run out of memory (it once did not,
    # in one full run of the suite, where DuckDB could evict its rows to a temp file)
    monkeypatch.setattr("pipelines.warehouse.settings", lambda roomy=False: settings(roomy) | (
        {} if roomy else {"max_temp_directory_size": "0KB"}))
    path = tmp_path / "w.duckdb"
    rows = [{"id": i, "text": f"{i:08d}" * 40} for i in range(30_000)]
    shared = connect(path) if through == "shared" else None

    def made() -> dlt.Pipeline:
        return dlt.pipeline("oom", destination=destination(path, con=shared),
                            pipelines_dir=str(tmp_path / "dlt"), dataset_name="raw")

    pipeline = made()
    pipeline.extract(rows, table_name="t")
    pipeline.normalize()
    with pytest.raises(Exception) as failed:
        pipeline.load()
    assert memory.out_of_memory(failed.value)
    memory.load(made(), path, shared)  # the package the failed load left, under the ceiling
    if shared is not None:
        shared.close()
    with duckdb.connect(str(path)) as con:
        assert con.execute("select count(*), count(distinct id) from raw.t").fetchone() \
            == (30_000, 30_000)


def test_a_sync_under_a_tiny_working_cap_still_loads_and_builds(
    sim: Simulator, warehouse: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure(monkeypatch, sim, "sipsim")
    monkeypatch.setenv("CALLSYNC__WORKING_MEMORY_LIMIT", "4MB")
    run = callsync_here("--debug", "sync", capsys=capsys)
    assert run.code == 0, run.err
    assert "ran out of memory" in run.out
    with duckdb.connect(str(warehouse), read_only=True) as con:
        # every raw record is a call or a rejected record: nothing lost in the fallbacks
        found = con.execute(
            "select (select count(distinct call_id) from raw_sipsim.calls "
            "        where call_id is not null), "
            "(select count(*) from calls) + (select count(*) from calls_rejected "
            "                                where reason <> 'missing call_id')").fetchone()
    assert found and found[0] > 0 and found[0] == found[1]


def test_the_page_parser_is_closed_and_opens_again() -> None:
    first = records_table(PAGE, [{"id": "a", "start_time": "2026-01-01T00:00:00Z"}], None)
    memory.close_parser()
    from sources import _native

    assert _native._database is None
    again = records_table(PAGE, [{"id": "b", "start_time": "2026-01-01T00:00:00Z"}], None)
    assert first.schema == again.schema == RAW_CALL_SCHEMA
    assert again.column("call_id").to_pylist() == ["b"]
    assert _native._database is not None


def test_countdown_calls_once_at_zero() -> None:
    calls: list[int] = []
    countdown = memory.Countdown(2, lambda: calls.append(1))
    countdown.done()
    assert calls == []
    countdown.done()
    assert calls == [1]


def test_a_full_rebuild_runs_under_the_ceiling_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CALLSYNC__WORKING_MEMORY_LIMIT", "4MB")
    seen: list[str] = []
    with connect(tmp_path / "w.duckdb") as con:
        with memory.under_ceiling(con):
            seen.append(setting(con, "memory_limit"))
            con.execute(HUNGRY)  # no out-of-memory first, no second attempt
        assert setting(con, "memory_limit") == "3.8 MiB"  # the working cap again
    assert seen == ["488.2 MiB"]  # DuckDB's way of saying 512MB


def test_trimming_gives_memory_back_while_inside_and_stops_after(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    called = threading.Event()
    calls: list[int] = []

    def trim(pad: int) -> int:
        calls.append(pad)
        called.set()
        return 1

    monkeypatch.setattr(memory, "_malloc_trim", lambda: trim)
    with memory.trimming(every=0.001):
        assert called.wait(timeout=30)
    assert "malloc-trim" not in [t.name for t in threading.enumerate()]  # joined: no more
    assert set(calls) == {0}


def test_trimming_is_a_no_op_without_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory, "_malloc_trim", lambda: None)
    with memory.trimming(every=0.001):
        assert "malloc-trim" not in [t.name for t in threading.enumerate()]
