"""jambonz's client as pure code: the offset paginator, bounds, ids, envelope, checks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from sources._config import check_page_size
from sources._http import ConfigError, ProviderError
from sources._native import read_page
from sources._time import iso_z
from sources.jambonz import settings
from sources.jambonz.client import (
    PAGE,
    OffsetPagePaginator,
    check_account_sid,
    live_calls_table,
    public_url,
    recent_calls_table,
)

SID = "3fa85f64-5717-4562-b3fc-2c963f66afa6"


def records_of(body: Any) -> list[Any]:
    """A body's records, as the page reader keeps them (JSON text, read back)."""
    table = read_page(PAGE, orjson.dumps(body), SID).table
    return [orjson.loads(text) for text in table.column("record").to_pylist()]


def recent_call_id(record: dict[str, Any]) -> object:
    return recent_calls_table([record], SID, "http://x").column("call_id")[0].as_py()


def live_call_id(record: dict[str, Any]) -> object:
    return live_calls_table([record], SID).column("call_id")[0].as_py()


def rows(n: int) -> list[dict[str, Any]]:
    return [{"call_sid": str(i)} for i in range(n)]


def test_first_request_asks_page_1_of_count() -> None:
    params: dict[str, Any] = {"start": "s", "end": "e"}
    OffsetPagePaginator(25).init_request(params)
    assert params == {"start": "s", "end": "e", "page": 1, "count": 25}


@pytest.mark.parametrize("body", [
    {"total": 60, "page_size": "25", "page": "1"},  # the server's envelope: strings
    {"total": 60, "batch": 25, "page": 1},  # the docs' envelope
    {"total": "60"},
], ids=["server-envelope", "docs-envelope", "total-as-text"])
def test_full_page_below_total_asks_the_next_page(body: dict[str, Any]) -> None:
    paginator, params = OffsetPagePaginator(25), {"page": 1, "count": 25}
    paginator.update_state(body, rows(25))
    assert paginator.has_next_page
    assert paginator.update_request(params) is None and params == {"page": 2, "count": 25}
    paginator.update_state(body, rows(25))
    assert paginator.has_next_page and paginator.update_request(params) is None
    assert params["page"] == 3


@pytest.mark.parametrize(("total", "records"), [
    (50, 25),  # page * count == total
    (40, 25),  # total shrank while paging: page * count > total
    (999, 10),  # a short page
    (999, 0),  # an empty page (a page past the end keeps `total`)
    (None, 0),
], ids=["exact-total", "total-reached", "short-page", "empty-page", "no-total-empty"])
def test_walk_ends(total: int | None, records: int) -> None:
    paginator = OffsetPagePaginator(25)
    paginator.update_state({"total": 60}, rows(25))  # page 1
    paginator.update_request({})
    paginator.update_state({"total": total, "data": []}, rows(records))  # page 2
    assert not paginator.has_next_page


def test_unreadable_total_falls_back_to_page_size() -> None:
    paginator = OffsetPagePaginator(2)
    paginator.update_state({"total": "lots"}, rows(2))
    assert paginator.has_next_page
    paginator.update_state({"total": True}, rows(1))
    assert not paginator.has_next_page


def test_records_of_reads_data_of_either_envelope_and_refuses_others() -> None:
    assert records_of({"total": 1, "page_size": "25", "page": "1", "data": [{"a": 1}]}) == [
        {"a": 1}]
    assert records_of({"total": 0, "batch": 25, "page": 1, "data": []}) == []
    for body in ([], {"total": 0}, {"data": None}, "Unauthorized"):
        with pytest.raises(ProviderError, match="no data list"):
            records_of(body)


@pytest.mark.parametrize(("record", "expected"), [
    ({"call_sid": "cs", "sip_callid": "sc@h"}, "cs"),
    ({"call_sid": None, "sip_callid": "sc@h"}, "sc@h"),  # failed inbound call
    ({"call_sid": "", "sip_call_id": "swagger@h"}, "swagger@h"),  # the swagger's spelling
    ({"call_sid": None}, None),
], ids=["call_sid", "sip_callid", "sip_call_id", "none"])
def test_recent_call_id(record: dict[str, Any], expected: str | None) -> None:
    assert recent_call_id(record) == expected


def test_live_call_id_prefers_the_call_sid() -> None:
    assert live_call_id({"call_sid": "cs", "call_id": "sip@h"}) == "cs"
    assert live_call_id({"call_id": "sip@h"}) == "sip@h"


@pytest.mark.parametrize(("ts", "up", "expected"), [
    (datetime(2026, 11, 1, 12, 0, tzinfo=UTC), False, "2026-11-01T12:00:00.000Z"),
    (datetime(2026, 11, 1, 12, 0, 0, 123999, tzinfo=UTC), False, "2026-11-01T12:00:00.123Z"),
    (datetime(2026, 11, 1, 12, 0, 0, 123001, tzinfo=UTC), True, "2026-11-01T12:00:00.124Z"),
    (datetime(2026, 11, 1, 12, 0, 0, 123000, tzinfo=UTC), True, "2026-11-01T12:00:00.123Z"),
    (datetime.fromisoformat("2026-11-01T14:00:00+02:00"), False, "2026-11-01T12:00:00.000Z"),
], ids=["whole", "start-rounds-down", "end-rounds-up", "end-exact", "offset-to-utc"])
def test_bounds_are_zoned_utc_milliseconds(ts: datetime, up: bool, expected: str) -> None:
    assert iso_z(ts, "milliseconds", round_up=up) == expected


def test_public_url_drops_credentials_query_and_trailing_slash() -> None:
    assert public_url("https://user:pw@api.example.com:8443/v1/?x=1#f") == (
        "https://api.example.com:8443/v1")
    assert public_url("http://127.0.0.1:5000/v1/") == "http://127.0.0.1:5000/v1"


def test_account_sid_must_be_a_uuid() -> None:
    sid = "3FA85F64-5717-4562-B3FC-2C963F66AFA6"
    assert check_account_sid(f" {sid} ") == sid
    for bad in ("ACxxxx", "", None, 42):
        with pytest.raises(ConfigError, match="SOURCES__JAMBONZ__ACCOUNT_SID"):
            check_account_sid(bad)


def test_page_size_is_1_to_500() -> None:
    assert check_page_size("jambonz", "500", settings.MAX_PAGE_SIZE) == 500
    assert check_page_size("jambonz", 1, settings.MAX_PAGE_SIZE) == 1
    for bad in (0, 501, "many", -3):
        with pytest.raises(ConfigError, match="SOURCES__JAMBONZ__PAGE_SIZE"):
            check_page_size("jambonz", bad, settings.MAX_PAGE_SIZE)


def test_pages_ahead_stop_at_total() -> None:
    paginator, params = OffsetPagePaginator(25), {"page": 1, "count": 25}
    paginator.update_state({"total": "110"}, rows(25))
    paginator.update_request(params)
    assert [p["page"] for p in paginator.pages_after(params, 9)] == [3, 4, 5]
    assert paginator.pages_after(params, 2) == [dict(params, page=3), dict(params, page=4)]
    paginator.update_state({"total": "lots"}, rows(25))
    assert paginator.pages_after(params, 9) == []
