"""One warehouse file per run, wherever it is named: `~`, relative, `--warehouse`."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest

from pipelines.warehouse import DEMO_WAREHOUSE, resolve, use, warehouse_path
from simulator.server import Simulator
from tests.cli.helpers import callsync, callsync_here
from tests.conftest import configure, query


@pytest.fixture(autouse=True)
def no_override() -> None:
    use(None)  # an in-process run of another test may have set `--warehouse`


def tables(path: Path) -> set[str]:
    found = query(path, "select schema_name || '.' || table_name from duckdb_tables()")
    return {name for (name,) in found}


def test_a_tilde_path_keeps_every_table_in_one_file(
    sim: Simulator, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = isolated / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", "~/x.duckdb")
    configure(monkeypatch, sim, "bland")

    run = callsync("sync", cwd=isolated)

    assert run.code == 0, run.err
    assert not (isolated / "~").exists()
    found = tables(home / "x.duckdb")
    assert {"raw_bland.sip_calls", "raw_bland._dlt_pipeline_state", "main.calls"} <= found
    assert query(home / "x.duckdb", "select count(*) from calls")[0][0] > 100
    status = callsync("status", cwd=isolated)
    assert "bland: last successful sync 20" in status.out, status.out + status.err


def test_the_path_is_resolved_once_to_an_absolute_file(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(isolated / "home"))
    assert resolve("~/w.duckdb") == isolated / "home" / "w.duckdb"
    assert resolve("rel/w.duckdb") == isolated / "rel" / "w.duckdb"
    assert warehouse_path() == isolated / "data" / "calls.duckdb"
    assert warehouse_path(DEMO_WAREHOUSE) == isolated / "data" / "demo.duckdb"
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", "duckdb:///~/env.duckdb")
    assert warehouse_path() == isolated / "home" / "env.duckdb"
    assert warehouse_path(DEMO_WAREHOUSE) == isolated / "data" / "demo.duckdb"  # not a real one
    use("~/option.duckdb")
    assert warehouse_path() == warehouse_path(DEMO_WAREHOUSE) == \
        isolated / "home" / "option.duckdb"


@pytest.mark.parametrize("where", ["before", "after"])
def test_the_warehouse_option_wins_over_the_environment(
    sim: Simulator, isolated: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], where: str,
) -> None:
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(isolated / "env.duckdb"))
    configure(monkeypatch, sim, "bland")
    option = ["--warehouse", "chosen/w.duckdb"]
    args = [*option, "sync"] if where == "before" else ["sync", *option]

    run = callsync_here(*args, capsys=capsys)

    assert run.code == 0, run.err
    assert not (isolated / "env.duckdb").exists()
    chosen = isolated / "chosen" / "w.duckdb"
    assert {"raw_bland.sip_calls", "main.calls"} <= tables(chosen)
    status = callsync_here("status", "--warehouse", str(chosen), capsys=capsys)
    assert status.code == 0 and "bland: last successful sync 20" in status.out


def test_status_without_a_warehouse_says_how_to_point_at_one(
    isolated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (isolated / "data").mkdir()
    duckdb.connect(str(isolated / "data" / "demo.duckdb")).close()  # as `make demo` leaves

    run = callsync_here("status", capsys=capsys)

    assert run.code == 2
    assert run.err.splitlines() == [
        f"error: no warehouse at {isolated / 'data' / 'calls.duckdb'}: run `callsync sync` to "
        "create it, or point at another file with --warehouse PATH (`callsync demo` wrote "
        f"{isolated / 'data' / 'demo.duckdb'})"]
    assert not (isolated / "data" / "calls.duckdb").exists()


def test_demo_writes_the_file_the_option_names_and_never_over_an_existing_one(
    isolated: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(isolated / "real.duckdb"))

    run = callsync_here("demo", "--size", "20", "--warehouse", "mine.duckdb", capsys=capsys)

    assert run.code == 0, run.err
    assert query(isolated / "mine.duckdb", "select count(*) from calls")[0][0] > 20
    assert not (isolated / "real.duckdb").exists()
    assert not (isolated / "data" / "demo.duckdb").exists()

    before = os.stat(isolated / "mine.duckdb").st_mtime_ns
    again = callsync_here("demo", "--warehouse", "mine.duckdb", capsys=capsys)
    assert again.code == 2 and "exists" in again.err
    assert os.stat(isolated / "mine.duckdb").st_mtime_ns == before


@pytest.mark.parametrize("option", ["", "."], ids=["empty", "a-directory"])
def test_a_warehouse_option_that_is_no_file_is_a_usage_error(
    isolated: Path, capsys: pytest.CaptureFixture[str], option: str,
) -> None:
    run = callsync_here("--warehouse", option, "transform", capsys=capsys)
    assert run.code == 2
    assert run.err.splitlines() == [f"error: --warehouse {option!r} is not a file: name a "
                                    "DuckDB file, e.g. --warehouse data/calls.duckdb"]
    assert list(isolated.iterdir()) == []
