"""The guarantees of the warehouse contract (section 4) on `destination = "postgres"`,
against a real PostgreSQL server: incremental, lookback, backfill window, nothing dropped,
one provider failing, a killed sync re-run, every command, no secret anywhere."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg2
import pytest
from dlt.common.versioned_state import decompress_state

from pipelines import sync
from pipelines.engines import postgres as engine
from simulator.server import Simulator
from sources import PROVIDERS
from tests.cli.helpers import callsync
from tests.conftest import NOW, configure
from tests.engines.same_rows import TABLES, differences, from_duckdb, from_postgres
from tests.test_bad_records import BAD, ODD
from tests.test_secrets import SECRET, every_file, secrets_of

LOOKBACK = timedelta(minutes=10)


@pytest.fixture
def on_postgres(postgres: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """callsync configured for the test's database; its DSN."""
    monkeypatch.setenv("CALLSYNC__DESTINATION", "postgres")
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", postgres)
    yield postgres


def fetch(dsn: str, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    con = psycopg2.connect(dsn)
    try:
        with con.cursor() as cur:
            cur.execute("set timezone = 'UTC'")
            cur.execute(sql, params)
            found = cur.fetchall()
        con.commit()
        return found
    finally:
        con.close()


def cursors(dsn: str, slug: str) -> dict[str, Any]:
    """Each resource's incremental `last_value` from dlt's state in the database."""
    found = {}
    for (blob,) in fetch(dsn, f"select state from raw_{slug}._dlt_pipeline_state "
                              "order by version desc limit 1"):
        for source in decompress_state(blob).get("sources", {}).values():
            for name, resource in source.get("resources", {}).items():
                for cursor in resource.get("incremental", {}).values():
                    found[name] = cursor.get("last_value")
    return found


def calls(dsn: str) -> dict[str, tuple[Any, ...]]:
    """`calls` by call_key, every column but synced_at."""
    table = from_postgres(dsn, "calls")
    return {row[0]: row[1:] for row in table.rows}


def test_incremental_then_lookback_then_a_lost_working_folder(
    sim: Simulator, on_postgres: str, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, sim, "unpod", lookback=int(LOOKBACK.total_seconds()))
    first = engine.run()
    assert first.ok and first.providers[0].new == 200
    before = calls(on_postgres)
    newest = max(row[6] for row in before.values())  # started_at

    sim.clear_log()
    unpod = sim.providers["unpod"]
    changed = unpod.complete_call(unpod.key_of(unpod.log[0]), duration=4321)  # the newest
    added = unpod.add_calls(3)
    second = engine.run()

    assert second.ok
    asked = [r.query["start_date"] for r in sim.requests_for("unpod", "call-logs")]
    assert asked == [(newest - LOOKBACK).strftime("%Y-%m-%dT%H:%M:%SZ")]  # lookback only
    assert (second.providers[0].new, second.providers[0].updated) == (len(added), 1)
    after = calls(on_postgres)
    key = f"unpod:{changed['id']}"
    assert after[key][9] == 4321 != before[key][9]  # duration_seconds
    assert {k: v for k, v in after.items() if k in before and k != key} == \
        {k: v for k, v in before.items() if k != key}  # nothing else changed
    assert len(after) == len(before) + len(added)
    # the incremental build equals a full rebuild from every raw row
    daily = from_postgres(on_postgres, "calls_daily")
    engine.transform_all()
    assert calls(on_postgres) == after
    assert differences(daily, from_postgres(on_postgres, "calls_daily")) == []

    # nothing new: no row added, no value changed
    third = engine.run()
    assert (third.providers[0].new, third.providers[0].updated) == (0, 0)
    assert calls(on_postgres) == after

    # the working folder lost: state comes back from the database, no full reload
    import shutil

    shutil.rmtree(engine.pipelines_dir(engine.credentials()))
    sim.clear_log()
    assert engine.run().ok
    assert len(sim.requests_for("unpod", "call-logs")) == 1
    runs = fetch(on_postgres, "select count(*), count(distinct run_id) from sync_runs")
    assert runs == [(4, 4)]


def test_backfill_reloads_a_window_without_moving_the_cursor(
    sim: Simulator, on_postgres: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, sim, "bland")
    assert engine.run().ok
    before, cursor = calls(on_postgres), cursors(on_postgres, "bland")
    start = datetime(2026, 10, 25, tzinfo=UTC)

    result = engine.run(start=start, end=start + timedelta(days=2))

    assert result.ok and result.providers[0].records > 0
    assert cursors(on_postgres, "bland") == cursor
    assert calls(on_postgres) == before
    row = fetch(on_postgres, "select backfill, window_start, window_end from sync_runs "
                             "order by started_at desc limit 1")
    assert row == [(True, start, start + timedelta(days=2))]


def test_broken_records_land_in_calls_rejected_as_on_duckdb(
    sim: Simulator, warehouse: Path, on_postgres: str, isolated: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bland = sim.providers["bland"]
    number = bland.phone_numbers[0]
    when = NOW - timedelta(days=2)
    for i, record in enumerate([r for r, _ in BAD] + ODD):
        bland.put_raw(number, record, when - timedelta(minutes=i))
    configure(monkeypatch, sim, "bland")
    assert sync.run(warehouse).ok
    result = engine.run()

    assert result.ok and result.rejected == {"bland": len(BAD)}
    for table in ("calls", "calls_rejected"):
        assert differences(from_duckdb(warehouse, table), from_postgres(on_postgres, table)) \
            == [], table
    reasons = sorted(r for (r,) in fetch(on_postgres, "select reason from calls_rejected"))
    assert reasons == sorted(reason for _, reason in BAD)

    # a raw record that is not JSON, or not an object, does not fail the build: rejected
    for record in ("not json {", '["a", "list"]', '"a string"'):
        fetch(on_postgres, "insert into raw_bland.sip_calls (call_id, started_at, account_id, "
                           "record, fetched_at) values (null, now(), %s, %s, now()) "
                           "returning 1", [number, record])
    assert callsync("transform", cwd=isolated).code == 0
    keys = {k for (k,) in fetch(on_postgres, "select record_key from calls_rejected "
                                             "where reason = 'missing call_id'")}
    assert {fetch(on_postgres, "select md5(%s)", [r])[0][0]
            for r in ("not json {", '["a", "list"]', '"a string"')} <= keys


def test_one_provider_failing_does_not_stop_the_others(
    sim: Simulator, on_postgres: str, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, sim, "unpod")
    configure(monkeypatch, sim, "bland", api_key="revoked-key-0000")

    run = callsync("sync", cwd=isolated)

    assert run.code == 1
    failed = [line for line in run.err.splitlines() if line.startswith("failed:")]
    assert len(failed) == 1 and failed[0].startswith("failed: bland")
    assert "revoked-key-0000" not in run.err + run.out
    assert fetch(on_postgres, "select provider, count(*) from calls group by 1") == \
        [("unpod", 200)]
    runs = dict(fetch(on_postgres, "select provider, status from sync_runs"))
    assert runs == {"bland": "failed", "unpod": "ok"}


def start_sync(cwd: Path, failpoint: str) -> subprocess.Popen[str]:
    env = {**os.environ, "CALLSYNC_FAILPOINT": failpoint}
    return subprocess.Popen([sys.executable, "-m", "pipelines", "sync"], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("point", ["after_extract", "after_load", "during_build"])
def test_a_killed_sync_run_again_ends_with_the_rows_of_one_clean_run(
    sim: Simulator, warehouse: Path, on_postgres: str, isolated: Path,
    monkeypatch: pytest.MonkeyPatch, point: str,
) -> None:
    configure(monkeypatch, sim, "bland")
    configure(monkeypatch, sim, "jambonz")
    assert sync.run(warehouse).ok  # the clean run, on DuckDB

    process = start_sync(isolated, point)
    process.communicate(timeout=120)
    assert process.returncode == -signal.SIGKILL
    result = engine.run()  # the advisory lock died with the killed session

    assert result.ok, [p.error for p in result.providers]
    for table in TABLES:
        assert differences(from_duckdb(warehouse, table), from_postgres(on_postgres, table)) \
            == [], table


def test_every_command_on_postgres(
    sim: Simulator, on_postgres: str, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for slug in PROVIDERS:
        configure(monkeypatch, sim, slug)
    assert callsync("sync", cwd=isolated).code == 0
    before = calls(on_postgres)

    status = callsync("status", "--json", "--max-age", "3600", cwd=isolated)
    assert status.code == 0, status.err
    shown = json.loads(status.out)
    dsn = psycopg2.extensions.parse_dsn(on_postgres)
    assert shown["warehouse"] == (f"postgresql://{dsn['user']}@127.0.0.1:{dsn['port']}/"
                                  f"{dsn['dbname']}")
    assert {s: p["calls"] for s, p in shown["providers"].items()} == dict(
        fetch(on_postgres, "select provider, count(*) from calls group by 1"))
    assert all(p["last_run_status"] == "ok" and p["cursor"] for p in
               shown["providers"].values())
    assert callsync("status", "--max-age", "3600", cwd=isolated).code == 0
    fetch(on_postgres, "update sync_runs set finished_at = finished_at - interval '2 hours' "
                       "returning 1")
    assert callsync("status", "--max-age", "3600", cwd=isolated).code == 3

    check = callsync("check", "--fail-on", "error", cwd=isolated)
    assert check.code == 0, check.err
    assert "written to call_checks" in check.out
    fetch(on_postgres, "update calls set answered = false where status = 'completed' "
                       "returning 1")  # breaks status_matches_answered, an error rule
    assert callsync("check", "--fail-on", "error", cwd=isolated).code == 1
    failing = fetch(on_postgres, "select provider, failing_rows, cardinality(sample_keys) "
                                 "from call_checks where rule = 'status_matches_answered' "
                                 "and failing_rows > 0")
    assert failing and all(samples == min(5, n) for _, n, samples in failing)

    transform = callsync("transform", cwd=isolated)
    assert transform.code == 0 and "models rebuilt" in transform.out
    assert calls(on_postgres) == before  # rebuilt from the raw rows

    publish = callsync("publish", cwd=isolated)
    assert publish.code == 0 and "nothing to publish" in publish.out
    assert not (isolated / "data" / "published").exists()

    report = callsync("report", cwd=isolated)
    assert report.code == 0, report.err
    page = (isolated / "data" / f"{dsn['dbname']}-report.html").read_text()
    assert "calls per day" in page.lower() and f"{len(before):,}" in page


def test_no_secret_in_the_database_output_or_files(
    sim: Simulator, on_postgres: str, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim.providers["bland"].api_key = SECRET
    for slug in PROVIDERS:
        configure(monkeypatch, sim, slug)
    token = sim.providers["unpod"].config(sim.url)["api_token"]  # an API echoing its key
    sim.fail_next(400, "unpod", body={"status_code": 400, "message": f"bad {token}"})
    password = psycopg2.extensions.parse_dsn(on_postgres)["password"]

    run = callsync("--debug", "sync", cwd=isolated)
    status = callsync("status", "--json", cwd=isolated)

    assert run.code == 1 and "unpod" in run.err
    secrets = [*secrets_of(sim), password]
    tables = fetch(on_postgres, "select table_schema, table_name from information_schema"
                                ".tables where table_schema not in ('pg_catalog', "
                                "'information_schema')")
    values = "".join(str(fetch(on_postgres, f'select * from "{s}"."{t}"')) for s, t in tables)
    states = "".join(str(decompress_state(blob)) for slug in ("bland", "sipsim", "jambonz")
                     for (blob,) in fetch(on_postgres,
                                          f"select state from raw_{slug}._dlt_pipeline_state"))
    files = every_file(isolated / "data")
    for secret in secrets:
        assert secret not in run.out + run.err + status.out + status.err
        assert secret not in values and secret not in states
        assert secret.encode() not in files, [str(f) for f in (isolated / "data").rglob("*")
                                               if f.is_file() and secret.encode() in f.read_bytes()]
