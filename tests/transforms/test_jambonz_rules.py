"""jambonz's rows of the contract: one raw record in, one `calls` (or `active_calls`) row
(or rejection) out.

Most cases share one build: each registers its record under its own id (the record's
call sid) and reads its own row back, so a case fails alone. Cases about the id itself,
rejections and reloads build a warehouse of their own.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from sources.jambonz.client import live_calls_table, recent_calls_table
from tests.transforms.helpers import build, connect, load_raw, rows

SID = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
BASE = "https://api.jambonz.cloud/v1"
CALL_SID = "9b2d7f3e-8c4a-4f1a-9d3e-1a2b3c4d5e6f"
T = datetime(2026, 11, 1, 11, 59, 35, 840000, tzinfo=UTC)
T_MS = 1793534375840  # T as epoch milliseconds


def cdr(**fields: Any) -> dict[str, Any]:
    """A RecentCalls record as the server returns it; `...` removes a field."""
    base = {
        "account_sid": SID, "call_sid": CALL_SID, "from": "+14155552671",
        "to": "16175550123", "answered": True, "direction": "inbound", "sip_status": 200,
        "duration": 45, "attempted_at": "2026-11-01T11:59:35.84Z",
        "answered_at": "2026-11-01T11:59:41.840Z", "terminated_at": "2026-11-01T12:00:26.900Z",
        "termination_reason": "caller hungup", "host": "10.0.1.2",
        "remote_host": "54.172.60.1", "trunk": "Twilio", "sip_callid": "a1b2c3@10.0.0.1",
        "trace_id": "0" * 32,
    }
    base.update(fields)
    return {k: v for k, v in base.items() if v is not ...}


def live(**fields: Any) -> dict[str, Any]:
    """A live Calls record as the server returns it; `...` removes a field."""
    base = {
        "account_sid": SID, "call_sid": CALL_SID, "call_id": "f00d@10.0.2.3",
        "sbc_callid": "a1b2c3@10.0.0.1", "call_status": "in-progress", "sip_status": 200,
        "sip_reason": "OK", "direction": "outbound", "from": "+14155552671",
        "to": "16175550123", "caller_id": "+14155552671", "trace_id": "ab" * 16,
        "service_url": "http://10.0.2.3:3000", "originating_sip_trunk_name": "Twilio",
    }
    base.update(fields)
    return {k: v for k, v in base.items() if v is not ...}


CALL_CASES: dict[str, dict[str, Any]] = {}  # case id (= call_sid) -> RecentCalls record
LIVE_CASES: dict[str, dict[str, Any]] = {}  # case id (= call_sid) -> live Calls record


def label(value: object) -> str:
    """A readable test id part: `...` (a field left out) reads `missing`."""
    return "missing" if value is ... else repr(value) if not isinstance(value, str) else value


def call_case(case: str, **fields: Any) -> str:
    """Register a RecentCalls record for the shared build, keyed by `case`."""
    assert case not in CALL_CASES, case
    CALL_CASES[case] = cdr(**{"call_sid": case, **fields})
    return case


def live_case(case: str, **fields: Any) -> str:
    assert case not in LIVE_CASES, case
    LIVE_CASES[case] = live(**{"call_sid": case, **fields})
    return case


Rows = dict[str, dict[str, Any]]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Rows, Rows]:
    """Every registered case loaded and built once: (calls, active_calls) by call_id."""
    con = connect(tmp_path_factory.mktemp("jambonz") / "w.duckdb")
    try:
        load_raw(con, "raw_jambonz.recent_calls",
                 recent_calls_table(list(CALL_CASES.values()), SID, BASE))
        load_raw(con, "raw_jambonz.calls", live_calls_table(list(LIVE_CASES.values()), SID))
        build(con)
        calls = {r["call_id"]: r for r in rows(con, "select * from calls")}
        active = {r["call_id"]: r for r in rows(con, "select * from active_calls")}
    finally:
        con.close()
    return calls, active


@pytest.fixture
def con(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = connect(tmp_path / "w.duckdb")
    yield connection
    connection.close()


def one_call(con: duckdb.DuckDBPyConnection, raw: dict[str, Any]) -> dict[str, Any]:
    load_raw(con, "raw_jambonz.recent_calls", recent_calls_table([raw], SID, BASE))
    build(con)
    found = rows(con, "select * from calls")
    assert len(found) == 1, found
    return found[0]


def one_live(con: duckdb.DuckDBPyConnection, raw: dict[str, Any]) -> dict[str, Any]:
    load_raw(con, "raw_jambonz.calls", live_calls_table([raw], SID))
    build(con)
    found = rows(con, "select * from active_calls")
    assert len(found) == 1, found
    return found[0]


# -- calls (RecentCalls) ---------------------------------------------------------------

UNANSWERED = {"answered_at": "1970-01-01T00:00:00.000Z"}
STATUS_ROWS = [
    # (answered, sip_status, status, answered, provider_status)
    (True, 200, "completed", True, "true/200"),
    (False, 486, "busy", False, "false/486"),
    (False, 600, "busy", False, "false/600"),
    (False, 603, "busy", False, "false/603"),
    (False, 408, "no_answer", False, "false/408"),
    (False, 480, "no_answer", False, "false/480"),
    (False, 487, "canceled", False, "false/487"),
    (False, 180, "in_progress", False, "false/180"),
    (False, 183, "in_progress", False, "false/183"),
    (False, 404, "failed", False, "false/404"),
    (False, 500, "failed", False, "false/500"),
    (False, 503, "failed", False, "false/503"),
    (False, 200, "completed", True, "false/200"),  # not flagged: by sip_status
    (True, 487, "completed", True, "true/487"),  # answered wins over the code
    ("true", 486, "completed", True, "true/486"),  # the tag as text
    (False, "486", "busy", False, "false/486"),  # code as text
    (..., 480, "no_answer", False, "/480"),  # no flag: by sip_status
    (False, ..., "unknown", False, "false/"),  # no code
    (False, 99, "unknown", False, "false/99"),
]


@pytest.mark.parametrize(("case", "status", "answered", "provider_status"), [
    pytest.param(call_case(f"status-{flag!r}-{code!r}", answered=flag, sip_status=code,
                           **(UNANSWERED if flag is not True else {})),
                 status, answered, provider_status, id=f"{label(flag)}-{label(code)}")
    for flag, code, status, answered, provider_status in STATUS_ROWS
])
def test_status_answered_else_by_sip_status(
    built: tuple[Rows, Rows], case: str, status: str, answered: bool, provider_status: str,
) -> None:
    call = built[0][case]
    assert (call["status"], call["answered"]) == (status, answered)
    assert call["provider_status"] == provider_status


ANSWERED_AT_ROWS = [
    ("iso", "2026-11-01T11:59:41.840Z", True, 6),  # a real answer time: answered
    ("epoch-iso", "1970-01-01T00:00:00.000Z", False, None),  # the epoch means null
    ("epoch-0", 0, False, None),
    ("null", None, False, None),
    ("epoch-ms", T_MS + 6000, True, 6),  # epoch ms, the docs' form
]


@pytest.mark.parametrize(("case", "answered", "wait"), [
    pytest.param(call_case(f"answered-at-{name}", answered=False, sip_status=487,
                           answered_at=value), answered, wait, id=name)
    for name, value, answered, wait in ANSWERED_AT_ROWS
])
def test_answered_at_makes_a_call_answered(
    built: tuple[Rows, Rows], case: str, answered: bool, wait: int | None
) -> None:
    call = built[0][case]
    assert call["status"] == "canceled"
    assert call["answered"] is answered
    assert call["answered_at"] == (None if wait is None else T.replace(second=41))
    assert call["wait_seconds"] == wait


DIRECTION_ROWS = [
    ("inbound", "inbound"), ("outbound", "outbound"), ("OUTBOUND", "outbound"),
    ("In-Bound", "inbound"), ("out_bound", "outbound"), ("sideways", "unknown"),
    (None, "unknown"), (..., "unknown"),
]


@pytest.mark.parametrize(("case", "expected"), [
    pytest.param(call_case(f"direction-{given}", direction=given), expected, id=label(given))
    for given, expected in DIRECTION_ROWS
])
def test_direction(built: tuple[Rows, Rows], case: str, expected: str) -> None:
    assert built[0][case]["direction"] == expected


STARTED_ROWS = [
    ("trimmed", "2026-11-01T11:59:35.84Z", T),  # trailing zeros trimmed
    ("whole-second", "2026-11-01T11:59:35Z", T.replace(microsecond=0)),
    ("nanoseconds", "2026-11-01T11:59:35.840123456Z", T.replace(microsecond=840123)),
    ("offset", "2026-11-01T13:59:35.840+02:00", T),
    ("no-zone", "2026-11-01T11:59:35.840", T),  # UTC
    ("epoch-ms", T_MS, T),  # the swagger's integer
    ("epoch-ms-text", str(T_MS), T),
    ("epoch-s", T_MS // 1000, T.replace(microsecond=0)),
]


@pytest.mark.parametrize(("case", "expected"), [
    pytest.param(call_case(f"started-{name}", attempted_at=value), expected, id=name)
    for name, value, expected in STARTED_ROWS
])
def test_started_at_is_attempted_at(built: tuple[Rows, Rows], case: str,
                                    expected: datetime) -> None:
    assert built[0][case]["started_at"] == expected


END = datetime(2026, 11, 1, 12, 0, 26, 900000, tzinfo=UTC)
ENDED_ROWS = [
    ("iso-ms", "2026-11-01T12:00:26.900Z", END),
    ("epoch-ms", T_MS + 51060, END),
    ("epoch", "1970-01-01T00:00:00.000Z", None),
    ("null", None, None),
]


@pytest.mark.parametrize(("case", "expected"), [
    pytest.param(call_case(f"ended-{name}", terminated_at=value), expected, id=name)
    for name, value, expected in ENDED_ROWS
])
def test_ended_at_is_terminated_at(built: tuple[Rows, Rows], case: str,
                                   expected: datetime | None) -> None:
    assert built[0][case]["ended_at"] == expected


DURATION_ROWS: list[tuple[str, dict[str, Any], int]] = [
    ("int", {"duration": 45}, 45),
    ("float", {"duration": 45.9}, 45),
    ("string", {"duration": "45"}, 45),
    ("h-mm-ss", {"duration": "0:01:05"}, 65),
    ("missing-answered", {"duration": ...}, 45),  # terminated - answered (45.06 s)
    ("missing-no-answer-time", {"duration": ..., **UNANSWERED}, 51),  # - attempted
    ("missing-unanswered", {"duration": ..., "answered": False, "sip_status": 486,
                            **UNANSWERED}, 0),
    ("zero", {"duration": 0, "answered": False, "sip_status": 480, **UNANSWERED}, 0),
]


@pytest.mark.parametrize(("case", "expected"), [
    pytest.param(call_case(f"duration-{name}", **fields), expected, id=name)
    for name, fields, expected in DURATION_ROWS
])
def test_duration_seconds(built: tuple[Rows, Rows], case: str, expected: int) -> None:
    assert built[0][case]["duration_seconds"] == expected


NUMBER_ROWS = [
    ("+14155552671", "+14155552671"),
    ("14155552671", "+14155552671"),  # 11 bare digits get a +
    ("+1 (415) 555-2671", "+14155552671"),
    ("0044 20 7946 0958", "+442079460958"),
    ("4155552671", "4155552671"),  # 10 digits: no default country
    ("1001", "1001"),  # a device extension
    ("anonymous", "anonymous"),
    ("sip:alice@example.com", "sip:alice@example.com"),
]


@pytest.mark.parametrize(("case", "expected"), [
    pytest.param(call_case(f"number-{given}", **{"from": given, "to": given}), expected,
                 id=given)
    for given, expected in NUMBER_ROWS
])
def test_numbers_are_e164_where_readable(built: tuple[Rows, Rows], case: str,
                                         expected: str) -> None:
    call = built[0][case]
    assert (call["from_number"], call["to_number"]) == (expected, expected)


RECORDING_PATH = f"/Accounts/{SID}/RecentCalls/{CALL_SID}/record/2026/11/01/mp3"
RECORDING_ROWS = [
    ("relative", RECORDING_PATH, BASE + RECORDING_PATH),
    ("relative-no-slash", "Accounts/a/mp3", f"{BASE}/Accounts/a/mp3"),
    ("absolute", "https://cdn.example.com/r/1.mp3", "https://cdn.example.com/r/1.mp3"),
    ("missing", ..., None),
    ("empty", "", None),
]


@pytest.mark.parametrize(("case", "expected"), [
    pytest.param(call_case(f"recording-{name}", recording_url=given), expected, id=name)
    for name, given, expected in RECORDING_ROWS
])
def test_recording_url_resolved_against_base_url(built: tuple[Rows, Rows], case: str,
                                                 expected: str | None) -> None:
    assert built[0][case]["recording_url"] == expected


ACCOUNT = "11111111-2222-4333-8444-555555555555"


@pytest.mark.parametrize(("case", "expected"), [
    pytest.param(call_case("account-own", account_sid=ACCOUNT), ACCOUNT, id="record"),
    pytest.param(call_case("account-missing", account_sid=...), SID, id="configured"),
])
def test_account_id_is_the_records_sid_else_the_configured_one(
    built: tuple[Rows, Rows], case: str, expected: str
) -> None:
    assert built[0][case]["account_id"] == expected


DOCUMENTED = call_case("documented")


def test_columns_of_a_documented_record(built: tuple[Rows, Rows]) -> None:
    call = built[0][DOCUMENTED]
    assert call["call_key"] == f"jambonz:{DOCUMENTED}" and call["provider"] == "jambonz"
    assert call["account_id"] == SID and call["direction"] == "inbound"
    assert (call["from_number"], call["to_number"]) == ("+14155552671", "+16175550123")
    assert call["started_at"] == T and call["answered_at"] == T.replace(second=41)
    assert call["ended_at"] == END
    assert (call["duration_seconds"], call["wait_seconds"]) == (45, 6)
    assert call["sip_code"] == 200 and call["end_reason"] == "caller hungup"
    assert call["synced_at"] is not None and call["recording_url"] is None


@pytest.mark.parametrize(("fields", "call_id"), [
    ({}, CALL_SID),
    ({"call_sid": None}, "a1b2c3@10.0.0.1"),  # a failed inbound call: its SIP Call-ID
    ({"call_sid": ..., "sip_callid": ..., "sip_call_id": "x9@h"}, "x9@h"),  # swagger name
    ({"call_sid": ""}, "a1b2c3@10.0.0.1"),
], ids=["call_sid", "sip_callid", "sip_call_id", "empty-call_sid"])
def test_call_id_is_call_sid_else_sip_callid(
    con: duckdb.DuckDBPyConnection, fields: dict[str, Any], call_id: str
) -> None:
    call = one_call(con, cdr(**fields))
    assert (call["call_id"], call["call_key"]) == (call_id, f"jambonz:{call_id}")


def test_latest_load_of_a_call_wins(con: duckdb.DuckDBPyConnection) -> None:
    load_raw(con, "raw_jambonz.recent_calls", recent_calls_table([cdr(duration=45)], SID, BASE))
    build(con)
    load_raw(con, "raw_jambonz.recent_calls", recent_calls_table([cdr(duration=52)], SID, BASE))
    report = build(con, incremental=True)
    assert rows(con, "select duration_seconds from calls") == [{"duration_seconds": 52}]
    assert (report.new.get("jambonz", 0), report.updated.get("jambonz", 0)) == (0, 1)


@pytest.mark.parametrize(("fields", "reason"), [
    ({"call_sid": None, "sip_callid": None}, "missing call_sid and sip_callid"),
    ({"call_sid": ..., "sip_callid": ""}, "missing call_sid and sip_callid"),
    ({"attempted_at": "last tuesday"}, "missing or unreadable attempted_at"),
    ({"attempted_at": ...}, "missing or unreadable attempted_at"),
    ({"attempted_at": "1970-01-01T00:00:00Z"}, "missing or unreadable attempted_at"),
], ids=["null-ids", "no-ids", "unreadable-time", "no-time", "epoch-time"])
def test_unusable_records_are_kept_raw_and_listed_as_rejected(
    con: duckdb.DuckDBPyConnection, fields: dict[str, Any], reason: str
) -> None:
    load_raw(con, "raw_jambonz.recent_calls", recent_calls_table(
        [cdr(**fields), cdr(call_sid="good")], SID, BASE))
    build(con)
    assert rows(con, "select call_id from calls") == [{"call_id": "good"}]
    rejected = rows(con, "select provider, reason, raw_table from calls_rejected")
    assert rejected == [{"provider": "jambonz", "reason": reason,
                         "raw_table": "raw_jambonz.recent_calls"}]
    assert rows(con, "select count(*) as n from raw_jambonz.recent_calls") == [{"n": 2}]


# -- active_calls (live Calls) ---------------------------------------------------------

LIVE_ROWS = [
    # (call_status, sip_status, status, answered)
    ("completed", 200, "completed", True),
    ("busy", 486, "busy", False),
    ("no-answer", 480, "no_answer", False),
    ("NO_ANSWER", 480, "no_answer", False),
    ("No Answer", 480, "no_answer", False),
    ("failed", 503, "failed", False),
    ("trying", 100, "in_progress", False),
    ("ringing", 180, "in_progress", False),
    ("alerting", 180, "in_progress", False),
    ("early-media", 183, "in_progress", False),
    ("Early_Media", 183, "in_progress", False),
    ("in-progress", 200, "in_progress", True),  # jambonz's "answered and talking"
    ("In-Progress", ..., "in_progress", True),
    ("queued", 100, "in_progress", False),
    ("queued", 200, "in_progress", True),  # a 200 while live: answered
    ("on-hold", 200, "unknown", False),
    (None, 180, "unknown", False),
]


@pytest.mark.parametrize(("case", "call_status", "status", "answered"), [
    pytest.param(live_case(f"live-{given}-{code}", call_status=given, sip_status=code),
                 given, status, answered, id=f"{label(given)}-{label(code)}")
    for given, code, status, answered in LIVE_ROWS
])
def test_live_call_status(
    built: tuple[Rows, Rows], case: str, call_status: str | None, status: str,
    answered: bool,
) -> None:
    call = built[1][case]
    assert (call["status"], call["answered"]) == (status, answered)
    assert call["provider_status"] == call_status


LIVE_DIRECTION_ROWS = [
    ("inbound", "inbound"), ("Outbound", "outbound"), ("?", "unknown"), (..., "unknown"),
]


@pytest.mark.parametrize(("case", "expected"), [
    pytest.param(live_case(f"live-direction-{given}", direction=given), expected,
                 id=label(given))
    for given, expected in LIVE_DIRECTION_ROWS
])
def test_live_call_direction(built: tuple[Rows, Rows], case: str, expected: str) -> None:
    assert built[1][case]["direction"] == expected


@pytest.mark.parametrize(("case", "expected"), [
    pytest.param(live_case("live-duration-none"), 0, id="absent"),  # as observed live: 0
    pytest.param(live_case("live-duration-int", duration=125), 125, id="int"),
    pytest.param(live_case("live-duration-text", duration="61"), 61, id="text"),
])
def test_live_call_duration(built: tuple[Rows, Rows], case: str, expected: int) -> None:
    assert built[1][case]["duration_seconds"] == expected


LIVE_DOCUMENTED = live_case("live-documented")


def test_live_call_columns(built: tuple[Rows, Rows]) -> None:
    call = built[1][LIVE_DOCUMENTED]
    assert call["call_key"] == f"jambonz:{LIVE_DOCUMENTED}" and call["provider"] == "jambonz"
    assert call["account_id"] == SID and call["sip_code"] == 200
    assert (call["from_number"], call["to_number"]) == ("+14155552671", "+16175550123")
    assert call["observed_at"] is not None
    assert set(call) == {
        "call_key", "provider", "call_id", "account_id", "direction", "status", "answered",
        "duration_seconds", "from_number", "to_number", "sip_code", "provider_status",
        "observed_at"}


def test_live_call_without_a_call_sid_is_keyed_by_its_sip_call_id(
    con: duckdb.DuckDBPyConnection
) -> None:
    call = one_live(con, live(call_sid=...))
    assert (call["call_id"], call["call_key"]) == ("f00d@10.0.2.3", "jambonz:f00d@10.0.2.3")


def test_live_call_without_any_id_stays_raw(con: duckdb.DuckDBPyConnection) -> None:
    load_raw(con, "raw_jambonz.calls", live_calls_table(
        [live(call_sid=None, call_id=None), live()], SID))
    build(con)
    assert rows(con, "select call_id from active_calls") == [{"call_id": CALL_SID}]
    assert rows(con, "select count(*) as n from raw_jambonz.calls") == [{"n": 2}]
    assert rows(con, "select count(*) as n from calls") == [{"n": 0}]  # never a calls row


def test_models_build_on_an_empty_warehouse(con: duckdb.DuckDBPyConnection) -> None:
    build(con)
    assert rows(con, "select count(*) as n from active_calls") == [{"n": 0}]
    assert rows(con, "select count(*) as n from calls where provider = 'jambonz'") == [
        {"n": 0}]
