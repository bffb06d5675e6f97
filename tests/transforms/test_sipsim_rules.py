"""SIPSIM's rows of the contract, one raw record in, one `calls` row (or rejection) out.

Every rule case registers its record under its own id; one build of the models serves
them all (a build per case would cost most of a second each), and each case reads back
its own row. Cases about ids, rejections and reloads build on their own.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from sources.sipsim.client import calls_table
from tests.transforms.helpers import build, connect, load_raw, rows

RECORDS: dict[str, dict[str, Any]] = {}


def record(**fields: Any) -> dict[str, Any]:
    """The seed's documented call object; `...` removes a field."""
    base: dict[str, Any] = {
        "id": 12345, "call_type": "inbound", "sip_status": "answer",
        "caller_number": "+33612345678", "target_number": "+33698765432",
        "answered_phone_number": "+33698765432", "answered": True, "wait_duration_sec": 5,
        "duration_sec": 120, "play_record_link": "https://example.com/recordings/call_12345.mp3",
        "phone_id": 456, "answered_phone_id": 789,
        "registration_time": "2024-01-15T10:30:00Z", "start_time": "2024-01-15T10:30:05Z",
        "answered_time": "2024-01-15T10:30:10Z", "end_time": "2024-01-15T10:32:10Z",
        "tags": [{"id": 10, "name": "Important"}],
    }
    base.update(fields)
    return {k: v for k, v in base.items() if v is not ...}


# an unanswered call as the API gives it: no start or answer time, nothing to play
UNANSWERED = {"answered": False, "start_time": None, "answered_time": None,
              "wait_duration_sec": 12, "duration_sec": 0, "play_record_link": None,
              "answered_phone_number": None, "answered_phone_id": None}


def cases(rule: str, table: list[tuple[dict[str, Any], Any]], ids: list[str]) -> list[Any]:
    """One pytest case per row: its record registered under the id `<rule>:<row id>`."""
    params = []
    for (fields, expected), row_id in zip(table, ids, strict=True):
        case = f"{rule}:{row_id}"
        assert case not in RECORDS, case
        RECORDS[case] = record(**{**fields, "id": case})
        params.append(pytest.param(case, expected, id=row_id))
    return params


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """`calls` rows by call_id, built once from every registered record."""
    con = connect(tmp_path_factory.mktemp("sipsim_rules") / "w.duckdb")
    load_raw(con, "raw_sipsim.calls", calls_table(list(RECORDS.values())))
    build(con)
    found = {row["call_id"]: row for row in rows(con, "select * from calls")}
    con.close()
    return found


@pytest.fixture
def con(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = connect(tmp_path / "w.duckdb")
    yield connection
    connection.close()


def row_of(built: dict[str, dict[str, Any]], case: str) -> dict[str, Any]:
    assert case in built, f"{case} did not become a calls row"
    return built[case]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


# (call_type, sip_status, record says answered) -> (status, answered)
STATUS_ROWS = [
    (("inbound", "answer", True), ("completed", True)),
    (("inbound", "ANSWER", True), ("completed", True)),
    (("outbound", "Answer", True), ("completed", True)),
    (("inbound", "cancel", False), ("canceled", False)),
    (("outgoing", "CANCEL", False), ("canceled", False)),
    (("inbound", "no_answer", False), ("no_answer", False)),
    (("inbound", "NOANSWER", False), ("no_answer", False)),
    (("outbound", "No-Answer", False), ("no_answer", False)),
    (("outbound", "noanswer", False), ("no_answer", False)),
    (("inbound", "no answer", False), ("no_answer", False)),
    (("outbound", "unavailable", False), ("no_answer", False)),
    (("inbound", "busy", False), ("busy", False)),
    (("outgoing", "BUSY", False), ("busy", False)),
    (("inbound", "other", False), ("failed", False)),
    (("inbound", "MISSED", False), ("unknown", False)),  # not a sip_status value
    (("inbound", None, False), ("unknown", False)),
    (("voicemail", "answer", True), ("voicemail", False)),  # voicemail: never answered
    (("VoiceMail", "no_answer", False), ("voicemail", False)),
    (("voicemail", "busy", False), ("voicemail", False)),
    (("missed", "answer", True), ("no_answer", False)),  # missed: never completed/answered
    (("missed", "no_answer", False), ("no_answer", False)),
    (("missed", "busy", False), ("busy", False)),
    (("MISSED", "cancel", False), ("canceled", False)),
    (("missed", "other", False), ("no_answer", False)),
    (("missed", None, False), ("no_answer", False)),
]


@pytest.mark.parametrize(("case", "expected"), cases(
    "status",
    [({"call_type": t, "sip_status": s, **({} if says else UNANSWERED)}, expected)
     for (t, s, says), expected in STATUS_ROWS],
    [f"{t}-{s}" for (t, s, _), _ in STATUS_ROWS]))
def test_status_and_answered_by_sip_status_and_call_type(
    built: dict[str, dict[str, Any]], case: str, expected: tuple[str, bool]
) -> None:
    call = row_of(built, case)
    assert (call["status"], call["answered"]) == expected


@pytest.mark.parametrize(("case", "expected"), cases("answered", [
    ({"sip_status": "answer", "answered": False, "answered_time": None}, True),
    ({**UNANSWERED, "sip_status": "cancel", "answered": True}, True),
    ({**UNANSWERED, "sip_status": "no_answer", "answered_time": "2024-01-15T10:30:10Z"}, True),
    ({**UNANSWERED, "sip_status": "no_answer", "answered": "false"}, False),
    ({"call_type": "voicemail", "answered": True}, False),
    ({"call_type": "missed", "answered": True}, False),
], ["completed-without-flags", "flag-says-so", "answered-time-says-so", "nothing-says-so",
    "voicemail-flagged", "missed-flagged"]))
def test_answered_is_completed_or_the_provider_says_so(
    built: dict[str, dict[str, Any]], case: str, expected: bool
) -> None:
    assert row_of(built, case)["answered"] is expected


@pytest.mark.parametrize(("case", "expected"), cases("direction", [
    ({"call_type": "inbound"}, "inbound"),
    ({"call_type": "outbound"}, "outbound"),
    ({"call_type": "outgoing"}, "outbound"),
    ({"call_type": "OUTGOING"}, "outbound"),
    ({"call_type": "Out-Bound"}, "outbound"),
    ({"call_type": "missed"}, "inbound"),
    ({"call_type": "voicemail"}, "inbound"),
    ({"call_type": ..., "direction": "outbound"}, "outbound"),
    ({"call_type": "", "direction": "outbound"}, "outbound"),
    ({"call_type": "missed", "direction": "outbound"}, "inbound"),
    ({"call_type": "sideways"}, "unknown"),
    ({"call_type": ...}, "unknown"),
], ["inbound", "outbound", "outgoing", "OUTGOING", "Out-Bound", "missed", "voicemail",
    "direction-field", "empty-call-type", "call-type-first", "unknown", "missing"]))
def test_direction_from_call_type_else_direction(
    built: dict[str, dict[str, Any]], case: str, expected: str
) -> None:
    assert row_of(built, case)["direction"] == expected


@pytest.mark.parametrize(("case", "expected"), cases("started_at", [
    ({}, "2024-01-15T10:30:05+00:00"),
    ({"start_time": None}, "2024-01-15T10:30:00+00:00"),
    ({"start_time": ...}, "2024-01-15T10:30:00+00:00"),
    ({"start_time": "soon"}, "2024-01-15T10:30:00+00:00"),
    ({"start_time": "1970-01-01T00:00:00Z"}, "2024-01-15T10:30:00+00:00"),
    ({"start_time": "2024-01-15T13:30:05.000+03:00"}, "2024-01-15T10:30:05+00:00"),
    ({"start_time": None, "registration_time": 1705314600}, "2024-01-15T10:30:00+00:00"),
    ({"start_time": None, "registration_time": "2024-01-15 10:30:00"},
     "2024-01-15T10:30:00+00:00"),
], ["start-time", "null-start", "missing-start", "unreadable-start", "epoch-is-null",
    "local-offset", "epoch-seconds-registration", "zoneless-registration"]))
def test_started_at_is_start_time_else_registration_time(
    built: dict[str, dict[str, Any]], case: str, expected: str
) -> None:
    assert row_of(built, case)["started_at"] == at(expected)


@pytest.mark.parametrize(("case", "expected"), cases("timestamps", [
    ({}, ("2024-01-15T10:30:10+00:00", "2024-01-15T10:32:10+00:00")),
    ({"answered_time": "2024-01-15T13:30:10.000+03:00",
      "end_time": "2024-01-15T13:32:10.000+03:00"},
     ("2024-01-15T10:30:10+00:00", "2024-01-15T10:32:10+00:00")),
    ({"answered_time": "2024-01-15T10:30:10.123456789Z", "end_time": 1705314730000},
     ("2024-01-15T10:30:10.123456+00:00", "2024-01-15T10:32:10+00:00")),
    ({"answered_time": None, "end_time": None}, (None, None)),
    ({"answered_time": "1970-01-01T00:00:00Z", "end_time": "0000-00-00 00:00:00"},
     (None, None)),
], ["utc", "local-offset-ms", "ns-and-epoch-ms", "null", "epoch-and-zero-dates"]))
def test_answered_and_ended_at_are_utc(
    built: dict[str, dict[str, Any]], case: str, expected: tuple[str | None, str | None]
) -> None:
    call = row_of(built, case)
    assert (call["answered_at"], call["ended_at"]) == tuple(
        at(e) if e else None for e in expected)


@pytest.mark.parametrize(("case", "expected"), cases("duration", [
    ({"duration_sec": 120}, 120),
    ({"duration_sec": 120.9}, 120),
    ({"duration_sec": "120"}, 120),
    ({"duration_sec": "0:02:00"}, 120),
    ({"duration_sec": 0}, 0),
    ({"duration_sec": ...}, 120),  # answered, ended: end_time - answered_time
    ({"duration_sec": None, "answered_time": None}, 125),  # else end_time - started_at
    ({**UNANSWERED, "sip_status": "busy", "duration_sec": ...}, 0),
    ({"duration_sec": None, "end_time": None}, 0),  # still going on
], ["int", "float", "string", "h-mm-ss", "zero", "missing-answered", "missing-no-answer-time",
    "missing-unanswered", "live"]))
def test_duration_seconds(built: dict[str, dict[str, Any]], case: str, expected: int) -> None:
    assert row_of(built, case)["duration_seconds"] == expected


@pytest.mark.parametrize(("case", "expected"), cases("wait", [
    ({"wait_duration_sec": 7}, 7),  # as reported, even where the times say 5
    ({"wait_duration_sec": "7"}, 7),
    ({"wait_duration_sec": ...}, 5),  # answered_time - started_at
    ({"wait_duration_sec": None}, 5),
    ({**UNANSWERED, "wait_duration_sec": None}, None),
    ({**UNANSWERED}, 12),
], ["reported", "reported-string", "missing", "null", "unanswered-unreported",
    "unanswered-reported"]))
def test_wait_seconds_as_reported_else_answered_minus_started(
    built: dict[str, dict[str, Any]], case: str, expected: int | None
) -> None:
    assert row_of(built, case)["wait_seconds"] == expected


NUMBERS = [
    ("+33612345678", "+33612345678"),
    ("33612345678", "+33612345678"),
    ("0033 6 12 34 56 78", "+33612345678"),
    ("+375 29 111-22-33", "+375291112233"),
    ("(029) 111-22-33", "(029) 111-22-33"),
    ("anonymous", "anonymous"),
    ("101", "101"),
    (None, None),
]


@pytest.mark.parametrize(("case", "expected"), cases(
    "e164", [({"caller_number": given, "target_number": given}, expected)
             for given, expected in NUMBERS],
    ["e164", "bare-digits", "00-prefix", "separators", "national", "anonymous", "extension",
     "null"]))
def test_numbers_are_e164_where_readable(
    built: dict[str, dict[str, Any]], case: str, expected: str | None
) -> None:
    call = row_of(built, case)
    assert (call["from_number"], call["to_number"]) == (expected, expected)


@pytest.mark.parametrize(("case", "expected"), cases("to_number", [
    ({"target_number": "+33698765432", "receiver_number": "+33700000000"}, "+33698765432"),
    ({"target_number": ..., "receiver_number": "33700000000"}, "+33700000000"),
    ({"target_number": None, "receiver_number": "+33700000000"}, "+33700000000"),
    ({"target_number": ...}, None),
], ["target-first", "receiver-when-no-target", "receiver-when-null-target", "neither"]))
def test_to_number_is_target_number_else_receiver_number(
    built: dict[str, dict[str, Any]], case: str, expected: str | None
) -> None:
    assert row_of(built, case)["to_number"] == expected


@pytest.mark.parametrize(("case", "expected"), cases("provider_status", [
    ({}, "inbound/answer"),
    ({"call_type": ..., "direction": "outbound", "sip_status": "BUSY"}, "outbound/BUSY"),
    ({"sip_status": ...}, "inbound/"),
    ({"call_type": ..., "sip_status": None}, None),
], ["both", "direction-form", "no-sip-status", "neither"]))
def test_provider_status_is_call_type_and_sip_status_as_given(
    built: dict[str, dict[str, Any]], case: str, expected: str | None
) -> None:
    assert row_of(built, case)["provider_status"] == expected


@pytest.mark.parametrize(("case", "expected"), cases("documented", [({}, None)], ["record"]))
def test_columns_of_the_documented_record(
    built: dict[str, dict[str, Any]], case: str, expected: None
) -> None:
    call = row_of(built, case)
    assert (call["provider"], call["call_key"]) == ("sipsim", f"sipsim:{case}")
    assert call["account_id"] is None
    assert (call["direction"], call["status"], call["answered"]) == ("inbound", "completed",
                                                                     True)
    assert call["started_at"] == at("2024-01-15T10:30:05+00:00")
    assert call["answered_at"] == at("2024-01-15T10:30:10+00:00")
    assert call["ended_at"] == at("2024-01-15T10:32:10+00:00")
    assert (call["duration_seconds"], call["wait_seconds"]) == (120, 5)
    assert (call["from_number"], call["to_number"]) == ("+33612345678", "+33698765432")
    assert call["sip_code"] is None and call["end_reason"] is None
    assert call["provider_status"] == "inbound/answer"
    assert call["recording_url"] == "https://example.com/recordings/call_12345.mp3"
    assert call["synced_at"] is not None


@pytest.mark.parametrize(("given", "expected"), [
    (12345, "12345"), ("call_123", "call_123"), (12345.0, "12345"),
], ids=["integer", "string", "integral-float"])
def test_call_id_is_the_id_as_text(
    con: duckdb.DuckDBPyConnection, given: object, expected: str
) -> None:
    load_raw(con, "raw_sipsim.calls", calls_table([record(id=given)]))
    build(con)
    assert rows(con, "select call_id, call_key from calls") == [
        {"call_id": expected, "call_key": f"sipsim:{expected}"}]


def test_latest_load_of_a_call_wins(con: duckdb.DuckDBPyConnection) -> None:
    load_raw(con, "raw_sipsim.calls", calls_table([record(end_time=None, duration_sec=None)]))
    build(con)
    load_raw(con, "raw_sipsim.calls", calls_table([record()]))
    report = build(con, incremental=True)
    assert rows(con, "select duration_seconds from calls") == [{"duration_seconds": 120}]
    assert (report.new.get("sipsim", 0), report.updated.get("sipsim", 0)) == (0, 1)


REJECTED = [
    ({"id": ...}, "missing call_id"),
    ({"id": ""}, "missing call_id"),
    ({"id": None}, "missing call_id"),
    ({"id": {"n": 1}}, "missing call_id"),
    ({"start_time": None, "registration_time": ...}, "missing or unreadable started_at"),
    ({"start_time": "soon", "registration_time": "later"}, "missing or unreadable started_at"),
]
REJECTED_IDS = ["no-id", "empty-id", "null-id", "object-id", "no-time", "unreadable-times"]


def bad_record(row_id: str, fields: dict[str, Any]) -> dict[str, Any]:
    return record(**{"id": f"bad-{row_id}", "caller_number": row_id, **fields})


@pytest.fixture(scope="module")
def rejections(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every unusable record beside one good call, built once: what became of them."""
    con = connect(tmp_path_factory.mktemp("sipsim_rejected") / "w.duckdb")
    bad = [bad_record(i, fields) for (fields, _), i in zip(REJECTED, REJECTED_IDS, strict=True)]
    load_raw(con, "raw_sipsim.calls", calls_table([*bad, record(id="good")]))
    build(con)
    found = {
        "calls": rows(con, "select call_id from calls"),
        "rejected": rows(con, "select r.*, json_extract_string(s.record, 'caller_number') "
                         "as row_id from calls_rejected r join staging.stg_sipsim__calls s "
                         "using (record_key)"),
        "raw": rows(con, "select count(*) as n from raw_sipsim.calls"),
    }
    con.close()
    return found


@pytest.mark.parametrize(("row_id", "reason"),
                         [(i, reason) for i, (_, reason) in zip(REJECTED_IDS, REJECTED,
                                                                strict=True)],
                         ids=REJECTED_IDS)
def test_unusable_records_are_kept_raw_and_listed_as_rejected(
    rejections: dict[str, Any], row_id: str, reason: str
) -> None:
    assert rejections["calls"] == [{"call_id": "good"}]
    (listed,) = [r for r in rejections["rejected"] if r["row_id"] == row_id]
    assert (listed["provider"], listed["reason"], listed["raw_table"]) == (
        "sipsim", reason, "raw_sipsim.calls")
    if reason != "missing call_id":
        assert listed["record_key"] == f"bad-{row_id}"  # the record's own id
    assert rejections["raw"] == [{"n": len(REJECTED) + 1}]  # nothing dropped


def test_daily_mart_counts_missed_inbound_calls(con: duckdb.DuckDBPyConnection) -> None:
    load_raw(con, "raw_sipsim.calls", calls_table([
        record(id=1), record(id=2, call_type="missed", **UNANSWERED),
        record(id=3, call_type="outgoing", sip_status="busy", **UNANSWERED)]))
    build(con)
    daily = rows(con, "select direction, calls, answered_calls, missed_calls from calls_daily "
                 "where provider = 'sipsim' order by direction")
    assert daily == [
        {"direction": "inbound", "calls": 2, "answered_calls": 1, "missed_calls": 1},
        {"direction": "outbound", "calls": 1, "answered_calls": 0, "missed_calls": 0},
    ]
