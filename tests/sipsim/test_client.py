"""SIPSIM's client: the paginator and record helpers as pure code, the OAuth auth over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest

from simulator.server import Simulator
from simulator.sipsim import SipsimSim
from sources._config import check_page_size
from sources._http import ConfigError, Http, ProviderError, RetryPolicy
from sources._native import read_page
from sources._time import iso_z
from sources.sipsim import settings
from sources.sipsim.client import (
    PAGE,
    Credentials,
    PageTokenPaginator,
    SipsimClient,
    calls_table,
    check_credentials,
    connect,
)

START = datetime(2026, 10, 1, tzinfo=UTC)


# -- the paginator, pure ---------------------------------------------------------------
def body(**pagination: Any) -> dict[str, Any]:
    return {"status": 200, "data": [], "pagination": pagination}


def test_first_request_sets_limit_and_no_token() -> None:
    params: dict[str, Any] = {"start_time": "2026-10-01T00:00:00Z"}
    PageTokenPaginator(20).init_request(params)
    assert params == {"start_time": "2026-10-01T00:00:00Z", "limit": 20}


def test_has_more_continues_with_the_page_token() -> None:
    paginator, params = PageTokenPaginator(20), {"limit": 20}
    paginator.update_state(body(count=20, limit=20, page="eyJpZCI6IDF9", has_more=True), [])
    assert paginator.has_next_page
    assert paginator.update_request(params) is None
    assert params == {"limit": 20, "page": "eyJpZCI6IDF9"}


@pytest.mark.parametrize("pagination", [
    {"count": 3, "limit": 20, "has_more": False},  # the last page omits `page`
    {"count": 3, "limit": 20, "page": "eyJpZCI6IDF9", "has_more": False},
    {"count": 0, "limit": 20},  # no has_more and no token
], ids=["no-token", "token-but-no-more", "nothing"])
def test_walk_ends_when_there_is_no_more(pagination: dict[str, Any]) -> None:
    paginator = PageTokenPaginator(20)
    paginator.update_state(body(**pagination), [])
    assert not paginator.has_next_page


def test_list_without_pagination_is_one_page() -> None:
    paginator = PageTokenPaginator(20)
    paginator.update_state({"status": 200, "data": []}, [])
    assert not paginator.has_next_page


def test_token_without_has_more_continues() -> None:
    paginator = PageTokenPaginator(20)
    paginator.update_state(body(count=20, page="abc"), [])
    assert paginator.has_next_page


def test_has_more_without_a_token_is_an_error_not_a_silent_stop() -> None:
    with pytest.raises(ProviderError, match="no pagination.page token"):
        PageTokenPaginator(20).update_state(body(count=20, has_more=True), [])


def test_a_token_coming_back_twice_stops_the_loop() -> None:
    paginator = PageTokenPaginator(20)
    paginator.update_state(body(page="abc", has_more=True), [])
    with pytest.raises(ProviderError, match="same page token"):
        paginator.update_state(body(page="abc", has_more=True), [])


# -- record helpers, pure --------------------------------------------------------------
def calls_of(body: Any) -> list[Any]:
    """A body's records, as the page reader keeps them (JSON text, read back)."""
    table = read_page(PAGE, orjson.dumps(body), None).table
    return [orjson.loads(text) for text in table.column("record").to_pylist()]


def test_calls_of_needs_a_data_list() -> None:
    assert calls_of({"data": [{"id": 1}]}) == [{"id": 1}]
    with pytest.raises(ProviderError, match="no data list"):
        calls_of({"status": 200, "errors": []})


@pytest.mark.parametrize(("given", "expected"), [
    (12345, "12345"), ("call_123", "call_123"), (12345.0, "12345"), (None, None), ("", None),
    (True, None), ({"id": 1}, None),
], ids=["int", "string", "integral-float", "null", "empty", "bool", "object"])
def test_call_id_is_the_id_as_text(given: object, expected: str | None) -> None:
    table = calls_table([{"id": given, "start_time": "2026-10-01T10:00:00Z"}])
    assert table.column("call_id").to_pylist() == [expected]


T = datetime(2026, 10, 1, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(("fields", "expected"), [
    ({"start_time": "2026-10-01T10:00:00Z", "registration_time": "2026-10-01T09:59:55Z"}, T),
    ({"start_time": None, "registration_time": "2026-10-01T10:00:00Z"}, T),
    ({"registration_time": "2026-10-01T10:00:00Z"}, T),
    ({"start_time": "soon", "registration_time": "2026-10-01T10:00:00Z"}, T),
    ({"start_time": "2026-10-01T13:00:00.000+03:00"}, T),
    ({"start_time": None, "registration_time": None}, None),
    ({}, None),
], ids=["start", "null-start", "no-start", "unreadable-start", "local-offset", "none", "empty"])
def test_started_at_is_start_time_else_registration_time(
    fields: dict[str, Any], expected: datetime | None
) -> None:
    table = calls_table([{"id": 1, **fields}])
    assert table.column("started_at").to_pylist() == [expected]


def test_started_at_rule_holds_over_a_mixed_page() -> None:
    page = [{"id": 1, "start_time": "2026-10-01T10:00:00Z"},
            {"id": 2, "start_time": "soon", "registration_time": "2026-10-01T10:00:00Z"},
            {"id": 3}, "not an object",
            {"id": 4, "start_time": None, "registration_time": 1790848800}]
    assert calls_table(page).column("started_at").to_pylist() == [T, T, None, None, T]


def test_raw_table_keeps_every_record_whole() -> None:
    table = calls_table([{"id": 1, "tags": [{"id": 10}]}, "not an object", None])
    assert table.num_rows == 3
    assert table.column("record").to_pylist() == [
        '{"id":1,"tags":[{"id":10}]}', '"not an object"', "null"]
    assert table.column("account_id").to_pylist() == [None, None, None]


@pytest.mark.parametrize(("moment", "text"), [
    (datetime(2026, 10, 1, tzinfo=UTC), "2026-10-01T00:00:00Z"),
    (datetime(2026, 10, 1, 3, tzinfo=timezone(timedelta(hours=3))), "2026-10-01T00:00:00Z"),
    (datetime(2026, 10, 1, 0, 0, 0, 250000, tzinfo=UTC), "2026-10-01T00:00:00.250000Z"),
    (datetime(2026, 10, 1), "2026-10-01T00:00:00Z"),
], ids=["utc", "offset", "fraction", "naive-is-utc"])
def test_iso_is_utc_with_z(moment: datetime, text: str) -> None:
    assert iso_z(moment) == text


# -- configuration checks, pure ----------------------------------------------------------
@pytest.mark.parametrize(("given", "kind"), [
    (("tok-123456", None, None), "access_token"),
    ((None, "client-1", "secret-1"), "client_credentials"),
    (("tok-123456", "client-1", "secret-1"), "client_credentials"),  # the renewable one wins
], ids=["token", "client", "both"])
def test_credentials_choice(given: tuple[Any, Any, Any], kind: str) -> None:
    credentials = check_credentials(*given)
    assert kind in repr(credentials)
    assert "tok-123456" not in repr(credentials) and "secret-1" not in repr(credentials)


@pytest.mark.parametrize(("given", "names"), [
    ((None, None, None), ["SOURCES__SIPSIM__ACCESS_TOKEN", "SOURCES__SIPSIM__CLIENT_ID",
                          "SOURCES__SIPSIM__CLIENT_SECRET"]),
    ((None, "client-1", None), ["SOURCES__SIPSIM__CLIENT_SECRET"]),
    (("tok-123456", None, "secret-1"), ["SOURCES__SIPSIM__CLIENT_ID"]),
], ids=["nothing", "id-without-secret", "secret-without-id"])
def test_missing_credentials_name_the_keys(given: tuple[Any, Any, Any], names: list[str]) -> None:
    with pytest.raises(ConfigError) as raised:
        check_credentials(*given)
    for name in names:
        assert name in str(raised.value)


@pytest.mark.parametrize("size", [19, 1001, "many", None])
def test_page_size_outside_the_api_limits_is_refused(size: object) -> None:
    with pytest.raises(ConfigError, match="SOURCES__SIPSIM__PAGE_SIZE"):
        check_page_size("sipsim", size, settings.MAX_PAGE_SIZE, settings.MIN_PAGE_SIZE)
    assert check_page_size("sipsim", "20", settings.MAX_PAGE_SIZE, settings.MIN_PAGE_SIZE) == 20
    assert check_page_size("sipsim", 1000, settings.MAX_PAGE_SIZE, settings.MIN_PAGE_SIZE) == 1000


# -- OAuth and bearer auth over the simulator ---------------------------------------------
class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def sipsim(sim: Simulator) -> SipsimSim:
    return sim.providers["sipsim"]  # type: ignore[no-any-return]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def http(sim: Simulator, clock: Clock) -> Iterator[Http]:
    """A client-credentials session on the simulator, with a hand clock and no sleeping."""
    with session(sim, clock) as made:
        yield made


@contextmanager
def session(sim: Simulator, clock: Clock, **credentials: str) -> Iterator[Http]:
    """A session with the given credentials (default: the simulator's client)."""
    config = sipsim(sim).config(sim.url)
    given = credentials or {"client_id": config["client_id"],
                            "client_secret": config["client_secret"]}
    made = connect(Credentials(**given), config["base_url"], config["token_url"],
                   RetryPolicy(attempts=3), clock=clock, sleep=lambda _: None)
    yield made
    made.close()


def page(http: Http) -> Any:
    return http.get_json(settings.CALLS_PATH, {"start_time": iso_z(START)})


def log(sim: Simulator) -> list[str]:
    """The simulator's request log as `token` / `calls <status>` steps."""
    return ["token" if r.path.endswith("/oauth/token") else "calls"
            for r in sim.requests_for("sipsim")]


def issued(sim: Simulator) -> list[str]:
    return [t for t in sipsim(sim).tokens if t != sipsim(sim).access_token]


def test_token_is_fetched_once_and_sent_as_bearer_on_every_page(
    sim: Simulator, http: Http
) -> None:
    pages = list(SipsimClient(http, page_size=20).call_pages(START))
    assert len(pages) > 3
    token_requests = sim.requests_for("sipsim", "/oauth/token")
    assert len(token_requests) == 1
    assert {k: token_requests[0].query[k] for k in
            ("grant_type", "client_id", "client_secret", "scope")} == {
        "grant_type": "client_credentials", "client_id": sipsim(sim).client_id,
        "client_secret": sipsim(sim).client_secret, "scope": "calls.read"}
    assert token_requests[0].header("authorization") is None
    (token,) = issued(sim)
    calls = sim.requests_for("sipsim", "/api/v2/calls")
    assert [r.header("authorization") for r in calls] == [f"Bearer {token}"] * len(pages)


def test_token_is_renewed_before_it_expires(sim: Simulator, http: Http, clock: Clock) -> None:
    page(http)
    clock.now += 7200 - settings.RENEW_BEFORE_SECONDS - 1
    page(http)
    assert log(sim) == ["token", "calls", "calls"]
    clock.now += 1
    page(http)
    assert log(sim) == ["token", "calls", "calls", "token", "calls"]
    first, second = issued(sim)
    assert sim.requests_for("sipsim")[-1].header("authorization") == f"Bearer {second}"


def test_expired_token_is_renewed_once_and_the_request_repeated(
    sim: Simulator, http: Http
) -> None:
    page(http)
    sipsim(sim).expire_tokens()
    assert page(http)["status"] == 200
    assert log(sim) == ["token", "calls", "calls", "token", "calls"]


def test_a_token_that_keeps_expiring_fails_after_one_renewal(
    sim: Simulator, http: Http
) -> None:
    sipsim(sim).token_lifetime = 0  # every token is born expired (a skewed server clock)
    with pytest.raises(ProviderError) as raised:
        page(http)
    assert log(sim) == ["token", "calls", "token", "calls"]
    message = str(raised.value)
    assert "HTTP 401" in message and "expired" in message
    for secret in [*issued(sim), sipsim(sim).client_secret]:
        assert secret not in message


def test_static_access_token_is_sent_and_never_renewed(sim: Simulator, clock: Clock) -> None:
    with session(sim, clock, access_token=sipsim(sim).access_token) as http:
        page(http)
        sipsim(sim).expire_tokens()
        with pytest.raises(ProviderError, match="HTTP 401") as raised:
            page(http)
        assert sipsim(sim).access_token not in str(raised.value)
    assert log(sim) == ["calls", "calls"]
    assert sim.requests_for("sipsim")[0].header("authorization") == \
        f"Bearer {sipsim(sim).access_token}"


def test_refused_client_credentials_name_the_keys_and_not_the_secret(
    sim: Simulator, clock: Clock
) -> None:
    with (session(sim, clock, client_id=sipsim(sim).client_id,
                  client_secret="wrong-secret-4242") as http,
          pytest.raises(ProviderError) as raised):
        page(http)
    message = str(raised.value)
    assert "HTTP 401" in message and "invalid_client" in message
    assert "SOURCES__SIPSIM__CLIENT_SECRET" in message
    assert "wrong-secret-4242" not in message and "\n" not in message
    assert log(sim) == ["token"]  # refused credentials are not retried


def test_transient_token_endpoint_failure_is_retried(sim: Simulator, http: Http) -> None:
    sim.fail_next(503, provider="sipsim")
    assert page(http)["status"] == 200
    assert log(sim) == ["token", "token", "calls"]


def test_missing_scope_is_a_403(sim: Simulator, clock: Clock) -> None:
    token = sipsim(sim).issue_token("account.read")
    with (session(sim, clock, access_token=token) as http,
          pytest.raises(ProviderError, match="HTTP 403.*calls.read")):
        page(http)


def test_no_credential_goes_to_another_origin(sim: Simulator, http: Http) -> None:
    page(http)
    with Simulator() as other:  # same host, another port: another origin
        other.add_provider("sipsim", SipsimSim())
        with pytest.raises(ProviderError, match="HTTP 401"):
            http.get_json(f"{other.url}/api/v2/calls", {"start_time": iso_z(START)})
        (request,) = other.requests
        assert request.header("authorization") is None


def test_reprs_hide_every_secret(sim: Simulator, http: Http) -> None:
    page(http)
    auth = http._client.auth
    shown = repr(http) + repr(auth)
    secrets = [*issued(sim), sipsim(sim).client_secret, sipsim(sim).client_id]
    assert all(s not in shown for s in secrets)
    assert set(secrets) <= set(auth.secret_values())  # type: ignore[union-attr]


def test_error_bodies_echoing_a_credential_are_redacted(sim: Simulator, http: Http) -> None:
    client_id, client_secret = sipsim(sim).client_id, sipsim(sim).client_secret
    sim.fail_next(401, provider="sipsim",
                  body={"error": f"client {client_id} with secret {client_secret} refused"})
    with pytest.raises(ProviderError) as refused:
        page(http)
    page(http)
    (token,) = issued(sim)
    sim.fail_next(400, provider="sipsim", body={"status": 400, "errors": [
        f"token {token} may not list calls"], "request_id": "r", "path": "/api/v2/calls"})
    with pytest.raises(ProviderError) as bad_request:
        page(http)
    for message in (str(refused.value), str(bad_request.value)):
        assert "***" in message
        assert all(s not in message for s in (client_id, client_secret, token))
