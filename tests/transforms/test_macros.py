"""The contract's parsing rules, in Python (cursor fields) and SQL (every other field)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.transform import models
from sources._pages import parse_timestamps
from sources._time import parse_timestamp

T = datetime(2026, 3, 9, 11, 0, tzinfo=UTC)

TIMESTAMPS = [
    ("2026-03-09T11:00:00Z", T),
    ("2026-03-09T11:00:00+00:00", T),
    ("2026-03-09T14:00:00+03:00", T),
    ("2026-03-09T06:00:00-05:00", T),
    ("2026-03-09T11:00:00", T),  # no zone: UTC
    ("2026-03-09 11:00:00", T),
    ("2026-03-09T11:00:00.000Z", T),
    ("2026-03-09T11:00:00.123456Z", T.replace(microsecond=123456)),
    ("2026-03-09T11:00:00.123456789Z", T.replace(microsecond=123456)),  # ns cut to us
    ("2026-03-09T11:00:35.84Z", T.replace(second=35, microsecond=840000)),
    ("1773054000", T),  # epoch seconds
    ("1773054000000", T),  # epoch milliseconds (>= 10^11)
    ("1773054000.5", T.replace(microsecond=500000)),
    ("1970-01-01T00:00:00Z", None),  # the epoch means null
    ("1970-01-01T00:00:00.000Z", None),
    ("0", None),
    ("0000-00-00 00:00:00", None),
    ("", None),
    ("not a time", None),
    ("inf", None),
    ("infinity", None),
    ("1e30", None),  # not a plain number, and out of range anyway
    ("99999999999999999999", None),  # out of range
    (None, None),
]

DURATIONS = [
    ("45", 45), ("45.9", 45), ("0", 0), ("207.0", 207),
    ("0:05:25", 325), ("00:05:25", 325), ("1:02:03", 3723), ("12:00:00", 43200),
    ("05:25", 325), ("1 day, 2:03:04", 93784), ("2 days, 0:00:01", 172801),
    ("", None), (None, None), ("soon", None), ("inf", None), ("nan", None),
    ("1e5", None), ("-5", None), ("99999999999", None),
]

NUMBERS = [
    ("+14150000000", "+14150000000"),
    ("14155551234", "+14155551234"),  # 11 bare digits get a +
    ("+1 (415) 555-1234", "+14155551234"),
    ("+1.415.555.1234", "+14155551234"),
    ("0044 20 7946 0958", "+442079460958"),  # leading 00 is +
    ("4155551234", "4155551234"),  # 10 digits: no default country, as given
    ("(415) 555-1234", "(415) 555-1234"),
    ("anonymous", "anonymous"),
    ("sip:alice@example.com", "sip:alice@example.com"),
    ("911", "911"),
    (None, None),
]


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    connection.execute("set TimeZone = 'UTC'")
    connection.execute("create schema staging")
    for path in models("macros"):
        connection.execute(path.read_text())
    yield connection
    connection.close()


def sql(con: duckdb.DuckDBPyConnection, expression: str, value: object) -> object:
    row = con.execute(f"select {expression}", [value]).fetchone()
    assert row is not None
    return row[0]


@pytest.mark.parametrize(("value", "expected"), TIMESTAMPS, ids=[str(v) for v, _ in TIMESTAMPS])
def test_timestamp_rules_in_python(value: str | None, expected: datetime | None) -> None:
    assert parse_timestamp(value) == expected


@pytest.mark.parametrize(("value", "expected"), TIMESTAMPS, ids=[str(v) for v, _ in TIMESTAMPS])
def test_timestamp_rules_in_sql(
    con: duckdb.DuckDBPyConnection, value: str | None, expected: datetime | None
) -> None:
    assert sql(con, "staging.ts(?::varchar)", value) == expected


def test_epoch_numbers_in_python() -> None:
    assert parse_timestamp(1773054000) == T
    assert parse_timestamp(1773054000000) == T
    assert parse_timestamp(0) is None
    assert parse_timestamp(True) is None


@pytest.mark.parametrize(("value", "expected"), DURATIONS, ids=[str(v) for v, _ in DURATIONS])
def test_duration_rules(con: duckdb.DuckDBPyConnection, value: str | None,
                        expected: int | None) -> None:
    assert sql(con, "staging.duration(?::varchar)", value) == expected


@pytest.mark.parametrize(("value", "expected"), NUMBERS, ids=[str(v) for v, _ in NUMBERS])
def test_e164_rules(con: duckdb.DuckDBPyConnection, value: str | None,
                    expected: str | None) -> None:
    assert sql(con, "staging.e164(?::varchar)", value) == expected


@pytest.mark.parametrize("value", ["no_answer", "NOANSWER", "No-Answer", "no answer", "noanswer"])
def test_vocabulary_tokens_ignore_case_and_separators(
    con: duckdb.DuckDBPyConnection, value: str
) -> None:
    assert sql(con, "staging.token(?)", value) == "noanswer"


@settings(max_examples=200, deadline=None)
@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1),
                    timezones=st.just(UTC)))
def test_iso_round_trip_agrees_between_python_and_sql(
    con: duckdb.DuckDBPyConnection, moment: datetime
) -> None:
    text = moment.isoformat()
    assert parse_timestamp(text) == moment
    assert sql(con, "staging.ts(?::varchar)", text) == moment


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=0, max_value=10 * 86400 - 1))
def test_every_duration_form_reads_the_same_seconds(
    con: duckdb.DuckDBPyConnection, seconds: int
) -> None:
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    forms = [str(seconds), f"{seconds}.75", f"{days * 24 + hours}:{minutes:02d}:{secs:02d}",
             f"{days * 24 + hours:02d}:{minutes:02d}:{secs:02d}"]
    if days:
        forms.append(f"{days} day{'s' if days > 1 else ''}, {hours}:{minutes:02d}:{secs:02d}")
    for form in forms:
        assert sql(con, "staging.duration(?::varchar)", form) == seconds, form


@pytest.mark.parametrize(("value", "expected"), TIMESTAMPS, ids=[str(v) for v, _ in TIMESTAMPS])
def test_page_parser_agrees_with_the_rules(value: str | None, expected: datetime | None) -> None:
    assert parse_timestamps([value]).to_pylist() == [expected]
    assert parse_timestamps([value, "2026-03-09T11:00:00Z"]).to_pylist() == [expected, T]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1),
                             timezones=st.sampled_from([UTC, timezone(timedelta(hours=3)),
                                                        timezone(timedelta(hours=-5))])),
                min_size=1, max_size=20), st.lists(st.booleans(), min_size=20, max_size=20))
def test_page_parser_fast_path_equals_the_slow_path(
    moments: list[datetime], missing: list[bool],
) -> None:
    texts = [None if gone else m.isoformat().replace("+00:00", "Z")
             for m, gone in zip(moments, missing, strict=False)]
    assert parse_timestamps(texts).to_pylist() == [parse_timestamp(t) for t in texts]


@pytest.mark.parametrize(("reported", "answered", "answered_at", "ended", "expected"), [
    (42, True, None, None, 42),  # reported wins
    (None, True, "2026-03-09T11:00:05Z", "2026-03-09T11:01:05.9Z", 60),  # ended - answered
    (None, True, None, "2026-03-09T11:01:00Z", 60),  # else ended - started
    (None, True, None, None, 0),  # still going: 0
    (None, False, None, "2026-03-09T11:01:00Z", 0),  # unanswered: 0
], ids=["reported", "from-answer", "from-start", "no-end", "unanswered"])
def test_call_duration_rule(
    con: duckdb.DuckDBPyConnection, reported: int | None, answered: bool,
    answered_at: str | None, ended: str | None, expected: int,
) -> None:
    row = con.execute(
        "select staging.call_duration(?::integer, ?, timestamptz '2026-03-09 11:00:00+00', "
        "?::timestamptz, ?::timestamptz)", [reported, answered, answered_at, ended]).fetchone()
    assert row == (expected,)
