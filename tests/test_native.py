"""The native page reader: a body's bytes to the raw table in DuckDB, nothing dropped."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sources._http import ProviderError
from sources._native import BodyNotJson, read_page
from sources.bland.client import PAGE as BLAND
from sources.jambonz.client import PAGE as JAMBONZ
from sources.sipsim.client import PAGE as SIPSIM
from sources.unpod.client import PAGE as UNPOD

T = datetime(2026, 3, 9, 10, tzinfo=UTC)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12)


def texts(page: Any) -> list[Any]:
    return [orjson.loads(t) for t in page.table.column("record").to_pylist()]


@settings(max_examples=60, deadline=None)
@given(st.lists(json_values, max_size=8))
def test_every_record_is_kept_as_the_api_returned_it(records: list[Any]) -> None:
    page = read_page(SIPSIM, orjson.dumps({"data": records}), None)
    assert page.table.num_rows == len(records)
    assert texts(page) == records  # value for value, in order


def test_odd_records_are_kept_with_what_can_be_read_of_them() -> None:
    records = [
        {"id": 1, "start_time": "2026-03-09T10:00:00Z"},
        "not an object", 42, None, [1, 2],
        {"start_time": "2026-03-09T10:00:00Z"},  # no id
        {"id": 2, "start_time": "soon"},  # an unreadable cursor
        {"id": 3, "start_time": 1773050400},  # epoch seconds
        {"id": "4", "start_time": "2026-03-09 12:00:00+02:00"},  # an offset, a space
        {"id": 5, "start_time": "0000-00-00 00:00:00"},
        {"id": 6, "start_time": "café ☎", "note": "ünïcode \u2028 \"quoted\""},
    ]
    page = read_page(SIPSIM, orjson.dumps({"data": records}), None)
    assert texts(page) == records
    assert page.table.column("call_id").to_pylist() == [
        "1", None, None, None, None, None, "2", "3", "4", "5", "6"]
    assert page.table.column("started_at").to_pylist() == [
        T, None, None, None, None, T, None, T, T, None, None]


def test_key_order_does_not_matter() -> None:
    record = {"id": "c1", "creation_time": "2026-03-09T10:00:00Z", "source_number": "+1"}
    flipped = dict(reversed(list(record.items())))
    body = {"count": 2, "next": None, "data": [record, flipped]}
    for order in (body, dict(reversed(list(body.items())))):
        page = read_page(UNPOD, orjson.dumps(order), "acme")
        assert page.table.column("call_id").to_pylist() == ["c1", "c1"]
        assert page.table.column("started_at").to_pylist() == [T, T]
        assert page.envelope == {"count": 2, "next": None}
        assert texts(page) == [record, flipped]  # each record's own key order kept


def test_envelope_has_present_keys_only_with_their_json_values() -> None:
    page = read_page(SIPSIM, b'{"pagination": {"page": "abc", "has_more": true}, "data": []}',
                     None)
    assert page.envelope == {"pagination": {"page": "abc", "has_more": True}}
    assert page.table.num_rows == 0
    assert read_page(UNPOD, b'{"data": []}', "acme").envelope == {}
    assert read_page(JAMBONZ, b'{"total": "60", "data": []}', "a").envelope == {"total": "60"}


def test_the_record_list_is_found_by_key_at_any_depth() -> None:
    body = {"data": {"calls": [{"call_id": "b1", "started_at": "2026-03-09T10:00:00Z"}]}}
    page = read_page(BLAND, orjson.dumps(body), "+14150000000")
    assert page.table.column("call_id").to_pylist() == ["b1"]
    assert page.table.column("account_id").to_pylist() == ["+14150000000"]


@pytest.mark.parametrize("body", [
    b'{"data": {"id": 1}}', b'{"data": null}', b'{"errors": []}', b"[]", b'"Unauthorized"',
], ids=["object", "null", "missing", "array-body", "string-body"])
def test_a_body_without_the_record_list_is_an_error_naming_the_endpoint(body: bytes) -> None:
    with pytest.raises(ProviderError, match=r"^sipsim: calls: response has no data list"):
        read_page(SIPSIM, body, None)


def test_a_body_that_is_not_json_is_a_value_error_for_the_retry() -> None:
    with pytest.raises(BodyNotJson):
        read_page(SIPSIM, b'{"data": [', None)
    assert issubclass(BodyNotJson, ValueError)


def test_pages_read_in_many_threads_at_once_stay_apart() -> None:
    results: dict[int, list[str | None]] = {}

    def read(n: int) -> None:
        body = orjson.dumps({"data": [{"id": f"{n}-{i}"} for i in range(500)]})
        for _ in range(5):
            results[n] = read_page(SIPSIM, body, None).table.column("call_id").to_pylist()

    threads = [threading.Thread(target=read, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == {n: [f"{n}-{i}" for i in range(500)] for n in range(4)}


def test_a_bad_body_among_many_read_at_once_fails_alone() -> None:
    good = orjson.dumps({"data": [{"id": 1, "start_time": "2026-03-09T10:00:00Z"}]})
    outcomes: dict[int, object] = {}

    def read(n: int) -> None:
        try:
            outcomes[n] = read_page(SIPSIM, b'{"data": [' if n == 3 else good, None).size
        except BodyNotJson:
            outcomes[n] = "not json"

    threads = [threading.Thread(target=read, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes == {n: "not json" if n == 3 else 1 for n in range(8)}


def test_a_body_that_is_not_utf8_is_not_json() -> None:
    with pytest.raises(BodyNotJson):
        read_page(SIPSIM, b'{"data": ["\xff"]}', None)


def test_the_first_readable_cursor_wins_when_the_fast_cast_misses_one() -> None:
    later = "2026-03-09T11:00:00Z"
    records = [
        {"id": 1, "start_time": "2026-03-09T10:00:00Z", "registration_time": later},
        {"id": 2, "start_time": 1773050400, "registration_time": later},  # epoch, then ISO
        {"id": 3, "start_time": "soon", "registration_time": later},  # unreadable first
        {"id": 4, "registration_time": later},  # the second only
        {"id": 5, "start_time": None, "registration_time": "never"},
    ]
    page = read_page(SIPSIM, orjson.dumps({"data": records}), None)
    eleven = datetime(2026, 3, 9, 11, tzinfo=UTC)
    assert page.table.column("started_at").to_pylist() == [T, T, eleven, eleven, None]


def test_a_page_read_among_others_keeps_its_own_rows_and_envelope() -> None:
    bodies = [orjson.dumps({"pagination": {"page": str(n)}, "data": [{"id": f"{n}-{i}"}
                                                                      for i in range(n)]})
              for n in range(4)]  # the first page has no records
    pages: dict[int, Any] = {}

    def read(n: int) -> None:
        pages[n] = read_page(SIPSIM, bodies[n], None)

    threads = [threading.Thread(target=read, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for n, page in pages.items():
        assert page.envelope == {"pagination": {"page": str(n)}}
        assert page.table.column("call_id").to_pylist() == [f"{n}-{i}" for i in range(n)]


def test_without_pandas_its_import_fails_at_once_and_duckdb_still_binds() -> None:
    import importlib.machinery
    import sys

    import duckdb

    from sources._nopandas import NoPandas

    installed = importlib.machinery.PathFinder.find_spec("pandas") is not None
    assert any(isinstance(f, NoPandas) for f in sys.meta_path) is not installed
    if not installed:
        assert isinstance(sys.meta_path[0], NoPandas)
        with pytest.raises(ModuleNotFoundError, match="pandas"):
            import pandas  # noqa: F401
    found = duckdb.connect().execute("select ?::varchar, ?", [b"x", 1]).fetchall()
    assert found == [("x", 1)]
