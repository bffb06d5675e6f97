"""Bland's rows of the contract, one raw record in, one `calls` row (or rejection) out."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from sources.bland.client import calls_table
from tests.transforms.helpers import build, connect, load_raw, rows

NUMBER = "+14150000001"


def record(**fields: Any) -> dict[str, Any]:
    base = {
        "call_id": "c1@sip.bland.ai", "direction": "outbound", "from": NUMBER,
        "to": "+15105551234", "status": "200 OK", "sip_code": 200, "duration_seconds": 45,
        "started_at": "2026-03-09T11:00:00Z", "ended_at": "2026-03-09T11:00:45Z",
        "source_ip": "35.80.235.26",
    }
    base.update(fields)
    return {k: v for k, v in base.items() if v is not ...}


@pytest.fixture
def con(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = connect(tmp_path / "w.duckdb")
    yield connection
    connection.close()


def one_call(con: duckdb.DuckDBPyConnection, raw: dict[str, Any]) -> dict[str, Any]:
    load_raw(con, "raw_bland.sip_calls", calls_table([raw], NUMBER))
    build(con)
    found = rows(con, "select * from calls")
    assert len(found) == 1, found
    return found[0]


STATUS_ROWS = [
    # (sip_code, status text, expected status, answered)
    (200, "200 OK", "completed", True),
    (486, "486 Busy Here", "busy", False),
    (600, "600 Busy Everywhere", "busy", False),
    (603, "603 Decline", "busy", False),
    (408, "408 Request Timeout", "no_answer", False),
    (480, "480 Temporarily Unavailable", "no_answer", False),
    (487, "487 Request Terminated", "canceled", False),
    (180, "180 Ringing", "in_progress", False),
    (183, "183 Session Progress", "in_progress", False),
    (404, "404 Not Found", "failed", False),
    (503, "503 Service Unavailable", "failed", False),
    (..., "486 Busy", "busy", False),  # no sip_code: the number leading status
    (..., "200 OK", "completed", True),
    (..., "Busy", "unknown", False),  # nothing to read a code from
    ("487", "487 Request Terminated", "canceled", False),  # code as text
]


@pytest.mark.parametrize(("code", "text", "status", "answered"), STATUS_ROWS,
                         ids=[f"{c}-{t}" for c, t, _, _ in STATUS_ROWS])
def test_status_by_sip_code_else_status_text(
    con: duckdb.DuckDBPyConnection, code: object, text: str, status: str, answered: bool
) -> None:
    call = one_call(con, record(sip_code=code, status=text))
    assert (call["status"], call["answered"]) == (status, answered)
    assert call["provider_status"] == text


@pytest.mark.parametrize(("given", "expected"), [
    ("inbound", "inbound"), ("outbound", "outbound"), ("OUTBOUND", "outbound"),
    ("In-Bound", "inbound"), ("sideways", "unknown"), (None, "unknown"),
])
def test_direction(con: duckdb.DuckDBPyConnection, given: str | None, expected: str) -> None:
    assert one_call(con, record(direction=given))["direction"] == expected


@pytest.mark.parametrize(("fields", "expected"), [
    ({"duration_seconds": 45}, 45),
    ({"duration_seconds": 45.9}, 45),
    ({"duration_seconds": "45"}, 45),
    ({"duration_seconds": ...}, 45),  # missing on an ended, answered call: ended - started
    ({"duration_seconds": ..., "sip_code": 486, "status": "486 Busy"}, 0),  # unanswered: 0
    ({"duration_seconds": None, "ended_at": None, "sip_code": 180, "status": "180"}, 0),
], ids=["int", "float", "string", "missing-answered", "missing-unanswered", "ringing"])
def test_duration_seconds(con: duckdb.DuckDBPyConnection, fields: dict[str, Any],
                          expected: int) -> None:
    assert one_call(con, record(**fields))["duration_seconds"] == expected


def test_columns_of_a_documented_record(con: duckdb.DuckDBPyConnection) -> None:
    call = one_call(con, record(to="15105551234", started_at="2026-03-09T11:00:00.250+00:00"))
    assert call["call_key"] == "bland:c1@sip.bland.ai"
    assert call["provider"] == "bland" and call["call_id"] == "c1@sip.bland.ai"
    assert call["account_id"] == NUMBER
    assert call["from_number"] == NUMBER and call["to_number"] == "+15105551234"
    assert call["started_at"].isoformat() == "2026-03-09T11:00:00.250000+00:00"
    assert call["ended_at"].isoformat() == "2026-03-09T11:00:45+00:00"
    assert call["answered_at"] is None and call["wait_seconds"] is None
    assert call["sip_code"] == 200
    assert call["synced_at"] is not None


def test_latest_load_of_a_call_wins(con: duckdb.DuckDBPyConnection) -> None:
    load_raw(con, "raw_bland.sip_calls",
             calls_table([record(sip_code=180, status="180 Ringing", ended_at=None)], NUMBER))
    build(con)
    load_raw(con, "raw_bland.sip_calls", calls_table([record()], NUMBER))
    report = build(con, incremental=True)
    assert rows(con, "select status from calls") == [{"status": "completed"}]
    assert (report.new.get("bland", 0), report.updated.get("bland", 0)) == (0, 1)


@pytest.mark.parametrize(("fields", "reason"), [
    ({"call_id": ...}, "missing call_id"),
    ({"call_id": ""}, "missing call_id"),
    ({"started_at": "yesterday"}, "missing or unreadable started_at"),
    ({"started_at": ...}, "missing or unreadable started_at"),
])
def test_unusable_records_are_kept_raw_and_listed_as_rejected(
    con: duckdb.DuckDBPyConnection, fields: dict[str, Any], reason: str
) -> None:
    load_raw(con, "raw_bland.sip_calls", calls_table([record(**fields), record(
        call_id="good@sip.bland.ai")], NUMBER))
    build(con)
    assert rows(con, "select call_id from calls") == [{"call_id": "good@sip.bland.ai"}]
    rejected = rows(con, "select provider, reason, raw_table from calls_rejected")
    assert rejected == [{"provider": "bland", "reason": reason,
                         "raw_table": "raw_bland.sip_calls"}]
    assert rows(con, "select count(*) as n from raw_bland.sip_calls") == [{"n": 2}]


def test_models_build_on_an_empty_warehouse(con: duckdb.DuckDBPyConnection) -> None:
    build(con)
    assert rows(con, "select count(*) as n from calls") == [{"n": 0}]
    assert rows(con, "select count(*) as n from calls_daily") == [{"n": 0}]
    assert rows(con, "select count(*) as n from sip_configs") == [{"n": 0}]
