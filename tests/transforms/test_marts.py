"""`calls_daily` against hand counts, and incremental builds against full rebuilds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from sources.bland.client import calls_table
from sources.jambonz.client import recent_calls_table
from tests.transforms.helpers import build, connect, load_raw, rows

A, B = "+14150000001", "+14150000002"
SID = "3fa85f64-5717-4562-b3fc-2c963f66afa6"


def call(call_id: str, started: str, code: int, direction: str, duration: int,
         **extra: Any) -> dict[str, Any]:
    return {"call_id": call_id, "started_at": started, "sip_code": code,
            "status": str(code), "direction": direction, "duration_seconds": duration,
            "from": A, "to": "+15105550000", **extra}


DAY1 = [
    call("a", "2026-03-09T00:00:00Z", 200, "inbound", 60),
    call("b", "2026-03-09T12:00:00Z", 486, "inbound", 0),
    call("c", "2026-03-09T23:59:59Z", 200, "outbound", 30),
    call("d", "2026-03-09T23:00:00-02:00", 408, "outbound", 0),  # 01:00 UTC on the 10th
    call("e", "2026-03-10T08:00:00Z", 180, "inbound", 0),  # ringing: counted, not answered
]


@pytest.fixture
def con(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = connect(tmp_path / "w.duckdb")
    yield connection
    connection.close()


def daily(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    return rows(con, "select * exclude (provider) from calls_daily order by day, direction")


def test_calls_daily_by_hand(con: duckdb.DuckDBPyConnection) -> None:
    load_raw(con, "raw_bland.sip_calls", calls_table(DAY1, A))
    build(con)
    got = [(str(r["day"]), r["direction"], r["calls"], r["answered_calls"], r["missed_calls"],
            r["answer_rate"], r["total_duration_seconds"], r["avg_duration_seconds"])
           for r in daily(con)]
    assert got == [
        ("2026-03-09", "inbound", 2, 1, 1, 0.5, 60, 60.0),
        ("2026-03-09", "outbound", 1, 1, 0, 1.0, 30, 30.0),
        ("2026-03-10", "inbound", 1, 0, 1, 0.0, 0, None),
        ("2026-03-10", "outbound", 1, 0, 0, 0.0, 0, None),
    ]
    types = dict(con.execute("select column_name, data_type from information_schema.columns "
                             "where table_name = 'calls_daily'").fetchall())
    assert types == {"day": "DATE", "provider": "VARCHAR", "direction": "VARCHAR",
                     "calls": "BIGINT", "answered_calls": "BIGINT", "missed_calls": "BIGINT",
                     "answer_rate": "DOUBLE", "total_duration_seconds": "BIGINT",
                     "avg_duration_seconds": "DOUBLE"}


def test_incremental_builds_equal_a_full_rebuild(con: duckdb.DuckDBPyConnection) -> None:
    load_raw(con, "raw_bland.sip_calls", calls_table(DAY1, A))
    build(con, incremental=True)
    # later: the ringing call completes, a new call, the same call seen in B's log
    load_raw(con, "raw_bland.sip_calls", calls_table([
        call("e", "2026-03-10T08:00:00Z", 200, "inbound", 90),
        call("f", "2026-03-11T09:00:00Z", 487, "outbound", 0),
    ], A))
    load_raw(con, "raw_bland.sip_calls", calls_table([
        call("a", "2026-03-09T00:00:00Z", 200, "outbound", 60)], B))
    report = build(con, incremental=True)
    assert (report.new, report.updated) == ({"bland": 1}, {"bland": 1})
    calls = rows(con, "select * exclude (synced_at) from calls order by call_key")
    days = daily(con)
    build(con, incremental=False)
    assert rows(con, "select * exclude (synced_at) from calls order by call_key") == calls
    assert daily(con) == days
    assert len(days) == 5


def test_a_call_whose_start_moved_is_replaced_not_duplicated(
    con: duckdb.DuckDBPyConnection,
) -> None:
    # the incremental build finds a touched call's row in `calls` by its key and fetches
    # it between the starts it had: a new start (the provider corrected it) must not
    # leave the old row behind, nor the old day's count in calls_daily
    load_raw(con, "raw_bland.sip_calls", calls_table(DAY1, A))
    build(con, incremental=True)
    load_raw(con, "raw_bland.sip_calls", calls_table([
        call("b", "2026-03-12T12:00:00Z", 200, "inbound", 45)], A))
    report = build(con, incremental=True)
    assert (report.new, report.updated) == ({"bland": 0}, {"bland": 1})
    assert rows(con, "select count(*) as n, min(strftime(started_at, '%Y-%m-%d')) as day "
                "from calls where call_id = 'b'") == [{"n": 1, "day": "2026-03-12"}]
    calls = rows(con, "select * exclude (synced_at) from calls order by call_key")
    days = daily(con)
    build(con, incremental=False)
    assert rows(con, "select * exclude (synced_at) from calls order by call_key") == calls
    assert daily(con) == days
    assert [str(d["day"]) for d in days if d["direction"] == "inbound"] == [
        "2026-03-09", "2026-03-10", "2026-03-12"]


def test_a_call_fetched_again_unchanged_keeps_its_row(con: duckdb.DuckDBPyConnection) -> None:
    # the lookback re-fetches calls that did not change: their rows (synced_at included)
    # stay as they are, only a changed call gets the newer fetch's synced_at, and the
    # build's mark still moves past every raw row read, so the next build reads none
    load_raw(con, "raw_bland.sip_calls", calls_table(DAY1, A))
    build(con, incremental=True)
    first = rows(con, "select * from calls order by call_key")
    load_raw(con, "raw_bland.sip_calls", calls_table(
        [*DAY1[:4], call("e", "2026-03-10T08:00:00Z", 200, "inbound", 90)], A))
    report = build(con, incremental=True)
    assert (report.new, report.updated) == ({"bland": 0}, {"bland": 1})
    second = rows(con, "select * from calls order by call_key")
    assert second[:4] == first[:4]
    assert second[4]["synced_at"] > first[4]["synced_at"]
    newest = con.execute("select max(fetched_at) from raw_bland.sip_calls").fetchone()
    assert con.execute("select provider, fetched_through from staging.calls_marks"
                       ).fetchall() == [("bland", newest[0] if newest else None)]
    build(con, incremental=True)
    assert con.execute("select count(*) from _staged_new").fetchone() == (0,)
    assert rows(con, "select * from calls order by call_key") == second
    calls, days = rows(con, "select * exclude (synced_at) from calls order by call_key"), daily(con)
    build(con, incremental=False)
    assert rows(con, "select * exclude (synced_at) from calls order by call_key") == calls
    assert daily(con) == days


def test_a_warehouse_built_before_the_marks_reads_only_newer_rows(
    con: duckdb.DuckDBPyConnection,
) -> None:
    # built by an earlier release: no `staging.calls_marks`; the build starts it from
    # each provider's newest `synced_at`, as those releases marked their builds
    load_raw(con, "raw_bland.sip_calls", calls_table(DAY1, A))
    build(con, incremental=True)
    con.execute("drop table staging.calls_marks")
    load_raw(con, "raw_bland.sip_calls", calls_table(
        [call("f", "2026-03-11T09:00:00Z", 487, "outbound", 0)], A))
    report = build(con, incremental=True)
    assert (report.new, report.updated) == ({"bland": 1}, {"bland": 0})
    assert con.execute("select count(*) from _staged_new").fetchone() == (1,)
    assert con.execute("select count(*) from staging.calls_marks").fetchone() == (1,)


def test_a_first_build_keeps_every_call_after_a_provider_with_none(
    con: duckdb.DuckDBPyConnection,
) -> None:
    # DuckDB 1.5.6 lost a parallel insert of more than one row group (122,880 rows) after
    # an empty one in the same transaction: Bland's only record is rejected (no id), so
    # its part of the first build inserts nothing, then SIPSIM's 150,000 calls
    n = 150_000
    columns = "call_id varchar, started_at timestamptz, account_id varchar, record varchar, " \
              "fetched_at timestamptz"
    con.execute(f"create schema raw_bland; create table raw_bland.sip_calls ({columns})")
    con.execute("insert into raw_bland.sip_calls values (null, timestamptz '2026-03-09 "
                "10:00:00+00', '+14150000001', '{\"status\": \"completed\"}', now())")
    con.execute("create schema raw_sipsim")
    con.execute("create table raw_sipsim.calls as select 'c' || i as call_id, "
                "timestamptz '2026-03-01 00:00:00+00' + to_seconds(i) as started_at, "
                "null::varchar as account_id, '{\"sip_status\": \"200\"}' as record, "
                "now() as fetched_at from range(?) as t(i)", [n])
    report = build(con, incremental=True)
    assert report.new == {"sipsim": n}
    assert con.execute("select count(*) from calls").fetchone() == (n,)
    assert con.execute("select sum(calls) from calls_daily").fetchone() == (n,)
    assert con.execute("select count(*) from calls_rejected").fetchone() == (1,)


def test_the_first_build_of_several_providers_equals_a_full_rebuild(
    con: duckdb.DuckDBPyConnection,
) -> None:
    # the first build runs one provider at a time (`calls_build._first_build`); a rebuild
    # over the whole union must find the same calls, the same call seen twice kept once
    load_raw(con, "raw_bland.sip_calls", calls_table(DAY1, A))
    load_raw(con, "raw_bland.sip_calls", calls_table([
        call("a", "2026-03-09T00:00:00Z", 200, "outbound", 60)], B))
    cdr = {"account_sid": SID, "call_sid": "9b2d7f3e-8c4a-4f1a-9d3e-1a2b3c4d5e6f",
           "from": "+14155552671", "to": "+16175550123", "answered": True,
           "direction": "inbound", "sip_status": 200, "duration": 45,
           "attempted_at": "2026-03-09T11:59:35.84Z", "answered_at": "2026-03-09T11:59:41.84Z",
           "terminated_at": "2026-03-09T12:00:26.9Z", "termination_reason": "caller hungup"}
    load_raw(con, "raw_jambonz.recent_calls",
             recent_calls_table([cdr], SID, "https://api.jambonz.cloud/v1"))
    report = build(con, incremental=True)
    assert report.new == {"bland": 5, "jambonz": 1}
    calls = rows(con, "select * exclude (synced_at) from calls order by call_key")
    assert [c["provider"] for c in calls].count("bland") == 5
    assert rows(con, "select account_id from calls where call_id = 'a'") == [{"account_id": A}]
    build(con, incremental=False)
    assert rows(con, "select * exclude (synced_at) from calls order by call_key") == calls
