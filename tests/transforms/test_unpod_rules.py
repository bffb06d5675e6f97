"""Unpod's rows of the contract, one raw record in, one `calls` row (or rejection) out."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from sources.unpod.client import calls_table
from tests.transforms.helpers import build, connect, load_raw, rows

ORG = "acme-corp"


def record(**fields: Any) -> dict[str, Any]:
    """The docs' `calls` example (U3); `...` removes a field."""
    base = {
        "id": "call_abc123def456", "source_number": "+919876543210",
        "destination_number": "+911234567890", "call_type": "outbound",
        "call_status": "completed", "creation_time": "2025-11-18T10:30:00.000Z",
        "start_time": "2025-11-18T10:30:05.000Z", "end_time": "2025-11-18T10:35:30.000Z",
        "call_duration": "0:05:25", "end_reason": "customer-ended-call", "bridge": 1,
    }
    base.update(fields)
    return {k: v for k, v in base.items() if v is not ...}


MISSED = {"call_status": "missed", "start_time": None, "end_time": None, "call_duration": 0,
          "end_reason": "no_answer"}
FAILED = {"call_status": "failed", "start_time": None, "end_time": "2025-11-18T10:30:20Z",
          "call_duration": 0, "end_reason": None}
GIVEN: dict[str, dict[str, Any]] = {}


def given(key: str, **fields: Any) -> str:
    """A rule row's record (its `id` is `key`), loaded with every other row in one build."""
    assert key not in GIVEN, key
    GIVEN[key] = record(**fields, id=key)
    return key


@pytest.fixture
def con(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = connect(tmp_path / "w.duckdb")
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def calls(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """`calls` rows by call_id after one build over every row's record (a build is ~0.4 s)."""
    with connect(tmp_path_factory.mktemp("rules") / "w.duckdb") as connection:
        load_raw(connection, "raw_unpod.call_logs", calls_table(list(GIVEN.values()), ORG))
        build(connection)
        found = {row["call_id"]: row for row in rows(connection, "select * from calls")}
    assert set(found) == set(GIVEN)
    return found


def one_call(con: duckdb.DuckDBPyConnection, raw: dict[str, Any]) -> dict[str, Any]:
    load_raw(con, "raw_unpod.call_logs", calls_table([raw], ORG))
    build(con)
    found = rows(con, "select * from calls")
    assert len(found) == 1, found
    return found[0]


def status_row(value: str | None, reason: str | None, picked_up: bool, status: str,
               answered: bool) -> tuple[str, str, bool]:
    fields: dict[str, Any] = {"call_status": value, "end_reason": reason}
    if not picked_up:
        fields.update(start_time=None, call_duration=0)
    key = f"status:{value}/{reason}/{'answer_time' if picked_up else 'no_answer_time'}"
    return given(key, **fields), status, answered


STATUS_ROWS = [
    status_row("completed", "caller_hangup", True, "completed", True),
    status_row("COMPLETED", "caller_hangup", True, "completed", True),
    status_row("completed", "caller_hangup", False, "completed", True),  # completed: answered
    status_row("missed", "no_answer", False, "no_answer", False),
    status_row("Missed", None, False, "no_answer", False),
    status_row("missed", "busy", False, "no_answer", False),  # busy only on failed calls
    status_row("failed", None, False, "failed", False),
    status_row("failed", "network_error", False, "failed", False),
    status_row("failed", "user_busy", False, "busy", False),
    status_row("failed", "BUSY", False, "busy", False),
    status_row("FAILED", "Line Busy", False, "busy", False),
    status_row("failed", "caller_hangup", True, "failed", True),  # an answer time: answered
    status_row("success", "caller_hangup", True, "unknown", True),  # backend values: no rule
    status_row("ANSWERED", "customer-ended-call", True, "unknown", True),
    status_row("FAILURE", "call_rejected", False, "unknown", False),
    status_row("REJECTED", None, False, "unknown", False),
    status_row("in-progress", None, True, "unknown", True),
    status_row(None, None, False, "unknown", False),
    status_row("", None, False, "unknown", False),
]


@pytest.mark.parametrize(("key", "status", "answered"), STATUS_ROWS,
                         ids=[k for k, _, _ in STATUS_ROWS])
def test_status_by_call_status_and_end_reason(
    calls: dict[str, dict[str, Any]], key: str, status: str, answered: bool
) -> None:
    call = calls[key]
    assert (call["status"], call["answered"]) == (status, answered)
    assert call["provider_status"] == GIVEN[key]["call_status"]
    assert call["end_reason"] == GIVEN[key]["end_reason"]
    assert call["sip_code"] is None


DIRECTION_ROWS = [
    (given(f"direction:{'missing' if value is ... else value}", call_type=value), expected)
    for value, expected in [
        ("inbound", "inbound"), ("outbound", "outbound"), ("Inbound", "inbound"),
        ("OUTBOUND", "outbound"), ("out-bound", "outbound"), ("In_Bound", "inbound"),
        ("both", "unknown"), (None, "unknown"), (..., "unknown"),
    ]
]


@pytest.mark.parametrize(("key", "expected"), DIRECTION_ROWS,
                         ids=[k for k, _ in DIRECTION_ROWS])
def test_direction_from_call_type(calls: dict[str, dict[str, Any]], key: str,
                                  expected: str) -> None:
    assert calls[key]["direction"] == expected


DURATION_ROWS = [
    (given(f"duration:{name}", **fields), expected) for name, fields, expected in [
        ("int", {"call_duration": 207}, 207),
        ("float-whole", {"call_duration": 207.0}, 207),
        ("float", {"call_duration": 207.9}, 207),
        ("numeric-string", {"call_duration": "207"}, 207),
        ("H:MM:SS", {"call_duration": "0:05:25"}, 325),
        ("HH:MM:SS", {"call_duration": "00:05:25"}, 325),
        ("12h", {"call_duration": "12:00:00"}, 43200),
        ("1-day", {"call_duration": "1 day, 2:03:04"}, 93784),
        ("2-days", {"call_duration": "2 days, 0:00:01"}, 172801),
        ("zero", {"call_duration": 0}, 0),
        # unreported on an ended, answered call: end_time - start_time
        ("missing-answered", {"call_duration": ...}, 325),
        ("null-answered", {"call_duration": None}, 325),
        ("unreadable", {"call_duration": "soon"}, 325),
        # no answer time: end_time - creation_time
        ("no-answer-time", {"call_duration": None, "start_time": None}, 330),
        ("missed-null", {**MISSED, "call_duration": None}, 0),  # unanswered, unreported
        ("failed-missing", {**FAILED, "call_duration": ...}, 0),  # ended, never answered
        ("in-progress", {"call_status": "in-progress", "end_time": None,
                         "call_duration": None}, 0),
    ]
]


@pytest.mark.parametrize(("key", "expected"), DURATION_ROWS, ids=[k for k, _ in DURATION_ROWS])
def test_duration_seconds(calls: dict[str, dict[str, Any]], key: str, expected: int) -> None:
    assert calls[key]["duration_seconds"] == expected


STARTED_ROWS = [
    (given(f"started_at:{name}", creation_time=text, start_time="2025-11-18T10:31:00Z"),
     expected) for name, text, expected in [
        ("Z", "2025-11-18T10:30:00Z", "2025-11-18T10:30:00+00:00"),
        (".000Z", "2025-11-18T10:30:00.000Z", "2025-11-18T10:30:00+00:00"),
        ("microseconds", "2025-11-18T10:30:00.123456Z", "2025-11-18T10:30:00.123456+00:00"),
        ("+05:30", "2025-11-18T16:00:00.250+05:30", "2025-11-18T10:30:00.250000+00:00"),
        ("no-zone", "2025-11-18T10:30:00", "2025-11-18T10:30:00+00:00"),  # UTC
        ("epoch-s", "1763461800", "2025-11-18T10:30:00+00:00"),
        ("epoch-ms", "1763461800000", "2025-11-18T10:30:00+00:00"),
    ]
]


@pytest.mark.parametrize(("key", "expected"), STARTED_ROWS, ids=[k for k, _ in STARTED_ROWS])
def test_started_at_is_creation_time_in_utc(calls: dict[str, dict[str, Any]], key: str,
                                            expected: str) -> None:
    call = calls[key]
    assert call["started_at"].isoformat() == expected
    assert call["answered_at"].isoformat() == "2025-11-18T10:31:00+00:00"  # not started_at


ANSWERED_ROWS = [
    # a missed call: answered and wait_seconds come from the answer time alone
    (given(f"answered_at:{name}", call_status="missed", start_time=text), answered_at, wait)
    for name, text, answered_at, wait in [
        ("ms", "2025-11-18T10:30:05.000Z", "2025-11-18T10:30:05+00:00", 5),
        ("Z", "2025-11-18T10:30:05Z", "2025-11-18T10:30:05+00:00", 5),
        ("offset", "2025-11-18T16:00:07.900+05:30", "2025-11-18T10:30:07.900000+00:00", 7),
        ("null", None, None, None),
        ("epoch", "1970-01-01T00:00:00Z", None, None),  # the epoch means no time
        ("zero-date", "0000-00-00 00:00:00", None, None),
        ("before-creation", "2025-11-18T10:29:00Z", "2025-11-18T10:29:00+00:00", None),
    ]
]


@pytest.mark.parametrize(("key", "answered_at", "wait"), ANSWERED_ROWS,
                         ids=[k for k, _, _ in ANSWERED_ROWS])
def test_answered_at_is_start_time_and_wait_is_from_creation(
    calls: dict[str, dict[str, Any]], key: str, answered_at: str | None, wait: int | None,
) -> None:
    call = calls[key]
    assert (call["answered_at"].isoformat() if call["answered_at"] else None) == answered_at
    assert call["wait_seconds"] == wait
    assert call["answered"] is (answered_at is not None)


ENDED_ROWS = [
    (given(f"ended_at:{name}", end_time=text), expected) for name, text, expected in [
        ("ms", "2025-11-18T10:35:30.000Z", "2025-11-18T10:35:30+00:00"),
        ("Z", "2025-11-18T10:35:30Z", "2025-11-18T10:35:30+00:00"),
        ("null", None, None),
    ]
]


@pytest.mark.parametrize(("key", "expected"), ENDED_ROWS, ids=[k for k, _ in ENDED_ROWS])
def test_ended_at_is_end_time(calls: dict[str, dict[str, Any]], key: str,
                              expected: str | None) -> None:
    ended = calls[key]["ended_at"]
    assert (ended.isoformat() if ended else None) == expected


NUMBER_ROWS = [
    (given(f"number:{name}", source_number=text, destination_number=text), expected)
    for name, text, expected in [
        ("e164", "+919876543210", "+919876543210"),
        ("bare-12", "919876543210", "+919876543210"),  # 11 to 15 bare digits get a +
        ("spaces", "+91 98765 43210", "+919876543210"),
        ("dashes", "+91-98765-43210", "+919876543210"),
        ("brackets-dots", "(+91) 98765.43210", "+919876543210"),
        ("00", "0091 98765 43210", "+919876543210"),  # a leading 00 is +
        ("10-digits", "9876543210", "9876543210"),  # no default country
        ("national", "080 4500 0001", "080 4500 0001"),  # a national 0: as given
        ("anonymous", "anonymous", "anonymous"),
        ("sip-uri", "sip:agent@unpod.ai", "sip:agent@unpod.ai"),
        ("short", "100", "100"),
        ("null", None, None),
    ]
]


@pytest.mark.parametrize(("key", "expected"), NUMBER_ROWS, ids=[k for k, _ in NUMBER_ROWS])
def test_numbers_e164_where_readable(calls: dict[str, dict[str, Any]], key: str,
                                     expected: str | None) -> None:
    assert (calls[key]["from_number"], calls[key]["to_number"]) == (expected, expected)


def test_columns_of_the_documented_calls_example(con: duckdb.DuckDBPyConnection) -> None:
    call = one_call(con, record())
    assert call["call_key"] == "unpod:call_abc123def456"
    assert (call["provider"], call["call_id"], call["account_id"]) == (
        "unpod", "call_abc123def456", ORG)
    assert (call["direction"], call["status"], call["answered"]) == (
        "outbound", "completed", True)
    assert call["started_at"].isoformat() == "2025-11-18T10:30:00+00:00"
    assert call["answered_at"].isoformat() == "2025-11-18T10:30:05+00:00"
    assert call["ended_at"].isoformat() == "2025-11-18T10:35:30+00:00"
    assert (call["duration_seconds"], call["wait_seconds"]) == (325, 5)
    assert (call["from_number"], call["to_number"]) == ("+919876543210", "+911234567890")
    assert (call["provider_status"], call["end_reason"]) == ("completed", "customer-ended-call")
    assert call["sip_code"] is None and call["recording_url"] is None
    assert call["synced_at"] is not None


def test_record_without_id_is_keyed_by_creation_time_and_numbers(
    con: duckdb.DuckDBPyConnection,
) -> None:
    # the docs' get-call-logs example (U2): no id, no bridge, integer seconds
    call = one_call(con, {
        "source_number": "+911234567890", "destination_number": "+919876543210",
        "call_type": "outbound", "call_status": "completed",
        "creation_time": "2026-02-07T05:57:00Z", "start_time": "2026-02-07T05:57:45Z",
        "end_time": "2026-02-07T06:01:12Z", "call_duration": 207,
        "end_reason": "caller_hangup"})
    assert call["call_id"] == "2026-02-07T05:57:00Z|+911234567890|+919876543210"
    assert call["call_key"] == "unpod:2026-02-07T05:57:00Z|+911234567890|+919876543210"
    assert (call["duration_seconds"], call["wait_seconds"]) == (207, 45)


def test_latest_load_of_a_call_wins(con: duckdb.DuckDBPyConnection) -> None:
    ongoing = record(id=..., call_status="in-progress", end_time=None, call_duration=0)
    load_raw(con, "raw_unpod.call_logs", calls_table([ongoing], ORG))
    build(con)
    load_raw(con, "raw_unpod.call_logs", calls_table([record(id=...)], ORG))
    report = build(con, incremental=True)
    assert rows(con, "select status, duration_seconds from calls") == [
        {"status": "completed", "duration_seconds": 325}]
    assert (report.new.get("unpod", 0), report.updated.get("unpod", 0)) == (0, 1)


@pytest.mark.parametrize(("fields", "reason"), [
    ({"id": ..., "creation_time": ...}, "missing call_id"),
    ({"id": "", "creation_time": None}, "missing call_id"),
    ({"creation_time": "yesterday"}, "missing or unreadable started_at"),
    ({"creation_time": ...}, "missing or unreadable started_at"),  # has an id
    ({"id": ..., "creation_time": "0000-00-00 00:00:00"}, "missing or unreadable started_at"),
], ids=["no-id-no-time", "empty-id-null-time", "unreadable-time", "no-time", "zero-time"])
def test_unusable_records_are_kept_raw_and_listed_as_rejected(
    con: duckdb.DuckDBPyConnection, fields: dict[str, Any], reason: str
) -> None:
    load_raw(con, "raw_unpod.call_logs", calls_table([record(**fields), record(
        id="good")], ORG))
    build(con)
    assert rows(con, "select call_id from calls") == [{"call_id": "good"}]
    rejected = rows(con, "select provider, reason, raw_table from calls_rejected")
    assert rejected == [{"provider": "unpod", "reason": reason,
                         "raw_table": "raw_unpod.call_logs"}]
    assert rows(con, "select count(*) as n from raw_unpod.call_logs") == [{"n": 2}]


def test_a_record_that_is_not_an_object_is_rejected_not_dropped(
    con: duckdb.DuckDBPyConnection,
) -> None:
    load_raw(con, "raw_unpod.call_logs", calls_table(["garbage", record()], ORG))
    build(con)
    assert rows(con, "select count(*) as n from calls") == [{"n": 1}]
    assert rows(con, "select reason from calls_rejected") == [{"reason": "missing call_id"}]
