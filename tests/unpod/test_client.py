"""Unpod's client as pure code: the paginator, the call id rule, the config checks."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import httpx
import orjson
import pytest

from sources._config import check_page_size
from sources._http import ConfigError, Meter, ProviderError
from sources.unpod import settings
from sources.unpod.client import (
    NextOrPageNumberPaginator,
    UnpodClient,
    calls_table,
    check_org_handle,
    connect,
)

BASE = "https://unpod.dev/api/v2/platform/"


def page(n: int) -> list[dict[str, Any]]:
    return [{"id": f"c{i}"} for i in range(n)]


def step(paginator: NextOrPageNumberPaginator, body: dict[str, Any],
         records: list[Any]) -> tuple[bool, str | None, dict[str, Any]]:
    """One page through the hooks: (has_next_page, URL to fetch, params of the next page)."""
    params: dict[str, Any] = {"start_date": "2026-10-01T00:00:00Z"}
    paginator.update_state(body, records)
    if not paginator.has_next_page:
        return False, None, params
    return True, paginator.update_request(params), params


def test_first_request_asks_for_page_one_of_page_size() -> None:
    params: dict[str, Any] = {"start_date": "2026-10-01T00:00:00Z"}
    NextOrPageNumberPaginator(100, BASE).init_request(params)
    assert params == {"start_date": "2026-10-01T00:00:00Z", "page": 1, "page_size": 100}


def test_without_next_pages_by_number_until_count_is_reached() -> None:
    paginator = NextOrPageNumberPaginator(2, BASE)
    assert step(paginator, {"count": 5, "data": page(2)}, page(2))[::2] == (
        True, {"start_date": "2026-10-01T00:00:00Z", "page": 2})
    assert step(paginator, {"count": 5}, page(2))[0]
    assert step(paginator, {"count": 5}, page(1))[0] is False


def test_full_last_page_ends_at_count_without_asking_past_the_end() -> None:
    paginator = NextOrPageNumberPaginator(2, BASE)
    assert step(paginator, {"count": 4}, page(2))[0]
    assert step(paginator, {"count": 4}, page(2))[0] is False  # page 3 would be a 400


def test_server_serving_fewer_than_page_size_is_walked_to_count() -> None:
    # Django REST framework serves at most its max_page_size, silently: a short page
    # is not the end while count says more records exist
    paginator = NextOrPageNumberPaginator(100, BASE)
    assert step(paginator, {"count": 150}, page(50))[0]
    assert step(paginator, {"count": 150}, page(50))[0]
    assert step(paginator, {"count": 150}, page(50))[0] is False


def test_without_count_a_short_page_ends_the_walk() -> None:
    paginator = NextOrPageNumberPaginator(2, BASE)
    assert step(paginator, {}, page(2))[0]
    assert step(paginator, {"count": "many"}, page(1))[0] is False


@pytest.mark.parametrize("body", [{"count": 9}, {"count": 9, "next": None}, {}],
                         ids=["count", "next-null", "nothing"])
def test_empty_page_ends_the_walk(body: dict[str, Any]) -> None:
    assert step(NextOrPageNumberPaginator(2, BASE), body, [])[0] is False


def test_next_on_the_configured_origin_is_followed() -> None:
    paginator = NextOrPageNumberPaginator(2, BASE)
    link = "https://unpod.dev/api/v2/platform/call-logs/?page=2&page_size=2"
    assert step(paginator, {"count": 9, "next": link}, page(2))[:2] == (True, link)


def test_next_null_ends_the_walk_even_if_count_says_more() -> None:
    assert step(NextOrPageNumberPaginator(2, BASE), {"count": 9, "next": None},
                page(2))[0] is False


@pytest.mark.parametrize("link", [
    "https://evil.example/api/v2/platform/call-logs/?page=2",
    "https://unpod.dev:8443/api/v2/platform/call-logs/?page=2",  # another port
    "http://unpod.dev/api/v2/platform/call-logs/?page=2",  # another scheme
    "/api/v2/platform/call-logs/?page=2",  # relative: no origin to check
    42,
], ids=["other-host", "other-port", "other-scheme", "relative", "not-a-string"])
def test_next_elsewhere_is_ignored_and_the_walk_goes_on_by_number(link: object) -> None:
    has_next, url, params = step(NextOrPageNumberPaginator(2, BASE),
                                 {"count": 9, "next": link}, page(2))
    assert (has_next, url, params["page"]) == (True, None, 2)


def test_next_that_loops_back_is_ignored_the_second_time() -> None:
    paginator = NextOrPageNumberPaginator(2, BASE)
    link = "https://unpod.dev/api/v2/platform/call-logs/?page=2&page_size=2"
    assert step(paginator, {"count": 6, "next": link}, page(2))[1] == link
    has_next, url, params = step(paginator, {"count": 6, "next": link}, page(2))
    assert (has_next, url, params["page"]) == (True, None, 3)


class FakeHttp:
    """Answers page 1 with a full page and page 2 with Unpod's out-of-range 400."""

    base_url = BASE

    def __init__(self, error: str) -> None:
        self.meter = Meter()
        self.error = error
        self.pages: list[Any] = []

    def get_page(self, path: str, params: Mapping[str, Any] | None,
                 read: Callable[[bytes], Any]) -> Any:
        self.pages.append(dict(params or {}))
        if params and params["page"] == 2:
            raise ProviderError("unpod", f"GET /call-logs/ answered HTTP 400{self.error}", 400)
        # no count: a full page may go on
        return read(orjson.dumps({"status_code": 200, "data": page(2)}))


def test_invalid_page_past_the_first_ends_the_walk() -> None:
    http = FakeHttp(" (bad request: check the configured values): Invalid page.")
    client = UnpodClient(http, "acme", page_size=2)  # type: ignore[arg-type]
    assert [len(p) for p in client.call_log_pages()] == [2]
    assert [p["page"] for p in http.pages] == [1, 2]


def test_other_400_past_the_first_page_still_fails() -> None:
    http = FakeHttp(": Invalid start_date")
    client = UnpodClient(http, "acme", page_size=2)  # type: ignore[arg-type]
    with pytest.raises(ProviderError, match="Invalid start_date"):
        list(client.call_log_pages())


def call_id(record: dict[str, Any]) -> object:
    return calls_table([record], "acme").column("call_id")[0].as_py()


@pytest.mark.parametrize(("record", "expected"), [
    ({"id": "call_abc123def456", "creation_time": "2026-02-07T05:57:00Z"}, "call_abc123def456"),
    ({"id": 42, "creation_time": "2026-02-07T05:57:00Z"}, "42"),
    ({"creation_time": "2026-02-07T05:57:00Z", "source_number": "+911234567890",
      "destination_number": "+919876543210"},
     "2026-02-07T05:57:00Z|+911234567890|+919876543210"),
    ({"id": None, "creation_time": "2026-02-07T05:57:00.000Z", "source_number": "+91",
      "destination_number": None}, "2026-02-07T05:57:00.000Z|+91|"),
    ({"id": "", "creation_time": "t", "source_number": "a", "destination_number": "b"},
     "t|a|b"),
    ({"source_number": "+911234567890", "destination_number": "+919876543210"}, None),
    ({"id": " ", "creation_time": ""}, None),
], ids=["id", "numeric-id", "no-id", "null-id-missing-number", "empty-id", "nothing",
        "blank"])
def test_call_id_is_id_else_creation_time_and_numbers(
    record: dict[str, Any], expected: str | None
) -> None:
    assert call_id(record) == expected


def test_credentials_only_as_headers_for_the_configured_origin() -> None:
    http = connect("tok-secret-123456", "acme", BASE)
    assert "tok-secret-123456" not in repr(http) + repr(http._client.auth)
    auth = http._client.auth
    mine = next(auth.auth_flow(httpx.Request("GET", BASE + "call-logs/")))
    theirs = next(auth.auth_flow(httpx.Request("GET", "https://evil.example/call-logs/")))
    assert mine.headers["Authorization"] == "Token tok-secret-123456"
    assert mine.headers["Org-Handle"] == "acme"
    assert "Authorization" not in theirs.headers and "Org-Handle" not in theirs.headers
    http.close()


@pytest.mark.parametrize("value", [None, "", "  ", "acme corp", 42, "a\nb"])
def test_org_handle_check_names_the_key(value: object) -> None:
    with pytest.raises(ConfigError, match="SOURCES__UNPOD__ORG_HANDLE"):
        check_org_handle(value)


def test_org_handle_is_trimmed() -> None:
    assert check_org_handle(" acme-corp ") == "acme-corp"


@pytest.mark.parametrize(("value", "expected"), [(1, 1), ("100", 100), (100, 100)])
def test_page_size_within_the_backend_cap(value: object, expected: int) -> None:
    assert check_page_size("unpod", value, settings.MAX_PAGE_SIZE) == expected


@pytest.mark.parametrize("value", [0, 101, "-1", "abc", "2.5"])
def test_page_size_outside_names_the_key(value: object) -> None:
    with pytest.raises(ConfigError, match="SOURCES__UNPOD__PAGE_SIZE"):
        check_page_size("unpod", value, settings.MAX_PAGE_SIZE)


def test_pages_ahead_are_named_only_by_number_and_only_up_to_count() -> None:
    # the server serves 50 of the 100 asked: its page size, not ours, numbers the pages
    paginator = NextOrPageNumberPaginator(100, BASE)
    _, _, params = step(paginator, {"count": 230}, page(50))
    assert [p["page"] for p in paginator.pages_after(params, 9)] == [3, 4, 5]
    assert paginator.pages_after(params, 1) == [dict(params, page=3)]
    linked = NextOrPageNumberPaginator(100, BASE)
    _, _, params = step(linked, {"count": 230, "next": BASE + "?page=2"}, page(50))
    assert linked.pages_after(params, 9) == []  # links lead: nothing is guessed
    uncounted = NextOrPageNumberPaginator(2, BASE)
    _, _, params = step(uncounted, {}, page(2))
    assert uncounted.pages_after(params, 9) == []
