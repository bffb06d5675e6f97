"""`transforms/postgres/macros/`: each Postgres function gives what its DuckDB macro in
`transforms/macros/normalize.sql` gives, on the awkward inputs providers send."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import duckdb
import psycopg2
import pytest

from pipelines import checks, transform
from pipelines.engines import postgres as engine

TIMESTAMPS = [
    "2026-10-30T10:00:00Z", "2026-10-30T10:00:00.123456789Z", "2026-10-30T10:00:00.1234565Z",
    "2026-10-30 10:00:00", "2026-10-30", "2026-10-30T10:00:00+0200", "2026-10-30T10:00:00+02",
    "2026-10-30T10:00:00-05:30", "2026-10-30T10:00:00.5+05:45", " 2026-10-30T10:00:00Z ",
    "2026-10-30T24:00:00Z", "2026-10-30 10:00:00 UTC", "2026-10-30T10:00:00 America/New_York",
    "2026-10-30T10:00Z", "2026-10-30T10:00:00z", "0000-00-00 00:00:00", "2026-02-30T00:00:00Z",
    "1970-01-01T00:00:00Z", "Oct 30 2026", "infinity", "yesterday", "", "abc", None,
    "1793354400", "1793354400.5", "1793354400123", "-86400", "0", "0.0", "20261030",
    "99999999999999999999", "1e9",
]
DURATIONS = [
    "45", "45.9", " 45 ", "0", "1:02", "01:02:03", "1:02:03.75", "2 days, 1:02:03",
    "1 day, 0:00:01.5", "-5", "abc", "", None, "1:2", "99999999999", "4.5e2", "12:60",
]
NUMBERS = [
    "+14155550100", "14155550100", "0014155550100", "(415) 555-0100", "+1 415.555.0100",
    "4155550100", "anonymous", "sip:alice@example.com", "+0123456789", "123", "", None,
    "+١٤١٥٥٥٥٠١٠٠", "00 44 20 7946 0958",
]
TOKENS = ["No-Answer", "NOANSWER", "no_answer", " in progress ", "Ringing", "", None]
URLS = [("/rec/1.mp3", "https://api.example.com/v1/"), ("rec/1.mp3", "https://a.example"),
        ("https://cdn.example/1.mp3", "https://a.example"), ("s3://b/1", None),
        ("rec/1.mp3", None), (None, "https://a.example")]
TEXT_TO_INTEGER = ["486", "486.0", "1.5", "2.5", "-1.5", "1e3", " 42 ", "2147483648", "abc",
                   "2147483647.4",
                   "", None, "nan", "inf"]
BOOLEANS = ["true", "false", "t", "f", "1", "0", "yes", "no", "y", "n", "TRUE", " true ",
            "on", "2", "", None]
CODES = [None, 100, 183, 200, 299, 300, 404, 408, 480, 486, 487, 503, 600, 603, 0, -1]
INSTANTS = [
    (datetime(2026, 10, 30, 10, 0, 0, 500000, tzinfo=UTC),
     datetime(2026, 10, 30, 10, 0, 5, 499999, tzinfo=UTC)),
    (datetime(2026, 10, 30, 10, 0, 0, 123456, tzinfo=UTC),
     datetime(2026, 10, 30, 10, 0, 7, 123456, tzinfo=UTC)),
    (datetime(2026, 10, 30, 10, 0, 9, tzinfo=UTC), datetime(2026, 10, 30, 10, 0, 0, tzinfo=UTC)),
    (None, datetime(2026, 10, 30, tzinfo=UTC)),
]


@pytest.fixture(scope="module")
def engines(postgres_server: Any) -> Iterator[tuple[duckdb.DuckDBPyConnection, Any]]:
    """A DuckDB connection with the macros and a Postgres database with the functions."""
    name = "macros_parity"
    postgres_server.drop_database(name)
    dsn = postgres_server.create_database(name)
    duck = duckdb.connect()
    duck.execute("set TimeZone = 'UTC'")
    duck.execute("create schema staging")
    duck.execute((transform.TRANSFORMS / "macros" / "normalize.sql").read_text())
    pg = psycopg2.connect(dsn)
    pg.autocommit = True
    with pg.cursor() as cur:
        cur.execute("set timezone = 'UTC'")
        cur.execute("create schema staging")
        for path in engine.models("macros"):
            cur.execute(path.read_text())
    yield duck, pg
    duck.close()
    pg.close()
    postgres_server.drop_database(name)


def both(engines: tuple[duckdb.DuckDBPyConnection, Any], duck_sql: str, pg_sql: str,
         args: tuple[Any, ...]) -> tuple[Any, Any]:
    duck, pg = engines
    expected = duck.execute(duck_sql, list(args)).fetchone()
    with pg.cursor() as cur:
        cur.execute(pg_sql, list(args))
        actual = cur.fetchone()
    return expected, actual


@pytest.mark.parametrize("value", TIMESTAMPS, ids=repr)
def test_ts(engines: Any, value: str | None) -> None:
    expected, actual = both(engines, "select staging.ts(?::varchar)",
                            "select staging.ts(%s::text)", (value,))
    assert actual == expected


@pytest.mark.parametrize("value", DURATIONS, ids=repr)
def test_duration(engines: Any, value: str | None) -> None:
    expected, actual = both(engines, "select staging.duration(?::varchar)",
                            "select staging.duration(%s::text)", (value,))
    assert actual == expected


@pytest.mark.parametrize("value", NUMBERS, ids=repr)
def test_e164(engines: Any, value: str | None) -> None:
    expected, actual = both(engines, "select staging.e164(?::varchar)",
                            "select staging.e164(%s::text)", (value,))
    assert actual == expected


@pytest.mark.parametrize("value", NUMBERS, ids=repr)
def test_e164_rule(engines: Any, value: str | None) -> None:
    # the check's condition as DuckDB runs it, and carried to Postgres by the engine's
    # transpile (`regexp_full_match` has no Postgres twin: it becomes an anchored `~`)
    rule = next(r for r in checks.rules() if r.name == "numbers_are_e164")
    sql = (f"select ({rule.condition}) from (select cast(? as varchar) as from_number, "
           "'+14155550100'::varchar as to_number) t")
    expected, actual = both(engines, sql, engine.to_postgres(sql, params=True), (value,))
    assert actual == expected


@pytest.mark.parametrize("value", TOKENS, ids=repr)
def test_token(engines: Any, value: str | None) -> None:
    expected, actual = both(engines, "select staging.token(?::varchar)",
                            "select staging.token(%s::text)", (value,))
    assert actual == expected


@pytest.mark.parametrize(("path", "base"), URLS, ids=repr)
def test_resolve_url(engines: Any, path: str | None, base: str | None) -> None:
    expected, actual = both(engines, "select staging.resolve_url(?::varchar, ?::varchar)",
                            "select staging.resolve_url(%s::text, %s::text)", (path, base))
    assert actual == expected


@pytest.mark.parametrize("value", TEXT_TO_INTEGER, ids=repr)
def test_try_integer_is_duckdbs_try_cast(engines: Any, value: str | None) -> None:
    expected, actual = both(engines,
                            "select try_cast(try_cast(?::varchar as double) as integer)",
                            "select staging.try_integer(%s::text)", (value,))
    assert actual == expected


@pytest.mark.parametrize("value", BOOLEANS, ids=repr)
def test_try_boolean_is_duckdbs_try_cast(engines: Any, value: str | None) -> None:
    expected, actual = both(engines, "select try_cast(?::varchar as boolean)",
                            "select staging.try_boolean(%s::text)", (value,))
    assert actual == expected


@pytest.mark.parametrize("code", CODES, ids=repr)
def test_sip_status(engines: Any, code: int | None) -> None:
    expected, actual = both(engines, "select staging.sip_status(?::integer)",
                            "select staging.sip_status(%s::integer)", (code,))
    assert actual == expected


@pytest.mark.parametrize(("a", "b"), INSTANTS, ids=repr)
def test_seconds_between_and_call_duration(engines: Any, a: datetime | None,
                                           b: datetime) -> None:
    expected, actual = both(
        engines, "select staging.seconds_between(?::timestamptz, ?::timestamptz), "
        "staging.call_duration(null, true, ?::timestamptz, null, ?::timestamptz)",
        "select staging.seconds_between(%s::timestamptz, %s::timestamptz), "
        "staging.call_duration(null, true, %s::timestamptz, null, %s::timestamptz)",
        (a, b, a, b))
    assert actual == expected


@pytest.mark.parametrize("record", ['{"a": "x", "b": 1.5, "c": {"d": 1}, "e": null}',
                                    '["a"]', '"a"', "7", "not json {", "", None], ids=repr)
def test_a_record_that_is_not_an_object_reads_as_empty(engines: Any, record: str | None) -> None:
    _, pg = engines
    with pg.cursor() as cur:
        cur.execute("select f.a, f.b, f.c, f.e from json_to_record(staging.json_object(%s)) "
                    "as f(a text, b text, c text, e text)", [record])
        found = cur.fetchone()
    if record and record.startswith("{"):
        assert found == ("x", "1.5", '{"d": 1}', None)
    else:
        assert found == (None, None, None, None)
