"""`[callsync] destination = "postgres"`: the sync flow on a real PostgreSQL server gives
DuckDB's rows, one writer at a time, and errors in one line (contract section 6)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest

from pipelines import sync
from pipelines.engines import postgres as engine
from simulator.server import Simulator
from sources import PROVIDERS
from tests.cli.helpers import callsync, callsync_here
from tests.conftest import configure
from tests.engines.postgres import PostgresServer, free_port
from tests.engines.same_rows import (
    RUN_COLUMNS,
    TABLES,
    differences,
    from_duckdb,
    from_postgres,
)


@pytest.fixture
def on_postgres(postgres: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """callsync configured for the test's database; its DSN."""
    monkeypatch.setenv("CALLSYNC__DESTINATION", "postgres")
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", postgres)
    yield postgres


def configure_all(monkeypatch: pytest.MonkeyPatch, sim: Simulator) -> None:
    for slug in PROVIDERS:
        configure(monkeypatch, sim, slug)


def scalar(dsn: str, sql: str) -> object:
    con = psycopg2.connect(dsn)
    try:
        with con.cursor() as cur:
            cur.execute(sql)
            row = cur.fetchone()
    finally:
        con.close()
    return row[0] if row else None


def test_same_api_data_gives_duckdbs_rows_in_every_contract_table(
    sim: Simulator, warehouse: Path, on_postgres: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure_all(monkeypatch, sim)
    into_duckdb = sync.run(warehouse)
    into_postgres = engine.run()

    assert into_duckdb.ok and into_postgres.ok, into_postgres.build_error
    for table in TABLES:
        expected, actual = from_duckdb(warehouse, table), from_postgres(on_postgres, table)
        assert len(expected.rows) > 0 or table == "calls_rejected"
        assert differences(expected, actual) == [], table
    # the checks too: each rule's failing rows and sample keys
    assert differences(from_duckdb(warehouse, "call_checks"),
                       from_postgres(on_postgres, "call_checks")) == []
    runs_duckdb = from_duckdb(warehouse, "sync_runs", only=RUN_COLUMNS)
    runs_postgres = from_postgres(on_postgres, "sync_runs", only=RUN_COLUMNS)
    assert differences(runs_duckdb, runs_postgres) == []
    assert [p.new for p in into_postgres.providers] == [p.new for p in into_duckdb.providers]
    # the raw tables in raw_<slug>, the contract's in public, dlt's state in the database
    assert scalar(on_postgres, "select count(*) from raw_bland._dlt_pipeline_state") == 1
    assert scalar(on_postgres, "select count(*) from information_schema.tables where "
                  "table_schema = 'public' and table_name in ('calls', 'calls_daily', "
                  "'sip_configs', 'active_calls', 'calls_rejected', 'sync_runs', "
                  "'call_checks', 'calls_unfinished', 'calls_gaps')") == 9


def test_a_second_writer_is_refused_at_once_by_the_advisory_lock(
    sim: Simulator, on_postgres: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure(monkeypatch, sim, "unpod")
    with engine.writer_lock(engine.credentials()):
        runs = [callsync_here(command, capsys=capsys) for command in ("sync", "transform",
                                                                     "check")]
    for run in runs:
        assert run.code == 2
        assert run.err.count("\n") == 1 and "another callsync is writing" in run.err
    assert sim.requests_for("unpod") == []  # nothing was requested
    assert callsync_here("sync", capsys=capsys).code == 0  # the lock went with its session


@pytest.mark.parametrize("fault", ["refused", "password", "database", "host"])
def test_an_unreachable_database_is_one_line_without_the_password(
    fault: str, sim: Simulator, postgres_server: PostgresServer, isolated: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    password = postgres_server.password
    dsn = {
        "refused": f"postgresql://callsync:{password}@127.0.0.1:{free_port()}/postgres",
        "password": postgres_server.dsn().replace(password, "wrong-password-123"),
        "database": postgres_server.dsn("no_such_database"),
        "host": f"postgresql://callsync:{password}@no-such-host.invalid:5432/postgres",
    }[fault]
    monkeypatch.setenv("CALLSYNC__DESTINATION", "postgres")
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", dsn)
    configure(monkeypatch, sim, "unpod")

    run = callsync("sync", cwd=isolated)

    assert run.code == 2, run.err
    assert run.err.count("\n") == 1 and "Traceback" not in run.err
    assert run.err.startswith("error: callsync: cannot connect to PostgreSQL at ")
    assert "DESTINATION__POSTGRES__CREDENTIALS" in run.err
    assert password not in run.err + run.out and "wrong-password-123" not in run.err
    assert sim.requests_for("unpod") == []


@pytest.mark.parametrize("command", ["status", "check", "transform", "report"])
def test_every_command_says_in_one_line_when_the_database_is_unreachable(
    command: str, isolated: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("CALLSYNC__DESTINATION", "postgres")
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS",
                       f"postgresql://callsync:pw-123456@127.0.0.1:{free_port()}/calls")
    run = callsync_here(command, capsys=capsys)
    assert run.code == 2
    assert run.err.count("\n") == 1 and "cannot connect to PostgreSQL at" in run.err
    assert "pw-123456" not in run.err + run.out


def test_warehouse_option_is_refused_on_postgres_not_ignored(
    sim: Simulator, on_postgres: str, isolated: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure(monkeypatch, sim, "unpod")
    run = callsync_here("--warehouse", "other.duckdb", "sync", capsys=capsys)
    assert run.code == 2 and run.err.count("\n") == 1
    assert "--warehouse names a DuckDB file, but destination is postgres" in run.err
    assert sim.requests == [] and not (isolated / "other.duckdb").exists()


def test_missing_credentials_name_the_key(
    sim: Simulator, isolated: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("CALLSYNC__DESTINATION", "postgres")
    configure(monkeypatch, sim, "unpod")
    run = callsync_here("sync", capsys=capsys)
    assert run.code == 2
    assert run.err.count("\n") == 1
    assert "set DESTINATION__POSTGRES__CREDENTIALS=postgresql://" in run.err
