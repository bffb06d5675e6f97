"""The SIPSIM simulator behaves as `sources/sipsim/README.md` (API notes) says."""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest

from simulator.server import Simulator
from simulator.sipsim import SipsimSim, page_token

START = "2026-10-01T00:00:00Z"


def sipsim(sim: Simulator) -> SipsimSim:
    return sim.providers["sipsim"]  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    """One plain HTTP client for the module (loopback HTTP: no TLS context to load)."""
    with httpx.Client(verify=False) as plain:
        yield plain


@dataclass
class Api:
    """GETs on the simulator's API root with the account's static bearer token."""

    client: httpx.Client
    root: str
    token: str

    def get(self, path: str, params: dict[str, Any] | None = None,
            headers: dict[str, str] | None = None) -> httpx.Response:
        return self.client.get(self.root + path, params=params, headers={
            "authorization": f"Bearer {self.token}", **(headers or {})})


@pytest.fixture
def api(sim: Simulator, client: httpx.Client) -> Api:
    return Api(client, f"{sim.url}/api/v2", sipsim(sim).access_token)


def error_of(response: httpx.Response, status: int) -> str:
    """The one message of a documented error body, checking its shape."""
    assert response.status_code == status
    body = response.json()
    assert set(body) == {"status", "errors", "request_id", "path"}
    assert body["status"] == status and body["path"] == "/api/v2/calls"
    (message,) = body["errors"]
    return str(message)


def walk(api: Api, **params: Any) -> list[dict[str, Any]]:
    pages, records = [], []
    while True:
        body = api.get("/calls", params=params).json()
        pages.append(body["pagination"])
        records += body["data"]
        if not body["pagination"]["has_more"]:
            assert "page" not in body["pagination"]  # the last page omits it
            return records
        params["page"] = body["pagination"]["page"]


# -- auth --------------------------------------------------------------------------------
@pytest.mark.parametrize(("header", "message"), [
    (None, "Missing access token"),
    ("Bearer not-a-token", "Invalid access token"),
    ("Token sipsim-static-access-token", "Invalid access token"),
], ids=["missing", "unknown", "not-bearer"])
def test_calls_without_a_valid_token_are_401(
    sim: Simulator, client: httpx.Client, header: str | None, message: str
) -> None:
    headers = {"authorization": header} if header else {}
    response = client.get(f"{sim.url}/api/v2/calls", params={"start_time": START},
                          headers=headers)
    assert error_of(response, 401) == message


def test_expired_token_is_401_saying_so(sim: Simulator, api: Api) -> None:
    sipsim(sim).expire_tokens()
    response = api.get("/calls", params={"start_time": START})
    assert error_of(response, 401) == "Access token expired"
    assert "expired" in response.headers["www-authenticate"]


def test_token_without_calls_read_is_403(sim: Simulator, api: Api) -> None:
    token = sipsim(sim).issue_token("account.read")
    response = api.get("/calls", params={"start_time": START},
                       headers={"authorization": f"Bearer {token}"})
    assert error_of(response, 403) == "Insufficient scope: calls.read required"


def test_token_endpoint_issues_expiring_bearer_tokens(
    sim: Simulator, client: httpx.Client
) -> None:
    form = {"grant_type": "client_credentials", "client_id": sipsim(sim).client_id,
            "client_secret": sipsim(sim).client_secret, "scope": "calls.read"}
    body = client.post(f"{sim.url}/oauth/token", data=form).json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope", "created_at"}
    assert (body["token_type"], body["expires_in"], body["scope"]) == ("Bearer", 7200,
                                                                       "calls.read")
    assert body["created_at"] == int(sipsim(sim).now.timestamp())
    calls = client.get(f"{sim.url}/api/v2/calls", params={"start_time": START},
                      headers={"authorization": f"Bearer {body['access_token']}"})
    assert calls.status_code == 200
    sipsim(sim).now += timedelta(seconds=7200)  # its lifetime passes on the server's clock
    calls = client.get(f"{sim.url}/api/v2/calls", params={"start_time": START},
                      headers={"authorization": f"Bearer {body['access_token']}"})
    assert calls.status_code == 401


def test_token_endpoint_accepts_http_basic_client_auth(
    sim: Simulator, client: httpx.Client
) -> None:
    response = client.post(f"{sim.url}/oauth/token", data={"grant_type": "client_credentials"},
                          auth=(sipsim(sim).client_id, sipsim(sim).client_secret))
    assert response.status_code == 200 and response.json()["access_token"]


@pytest.mark.parametrize(("form", "status", "error"), [
    ({"grant_type": "client_credentials", "client_id": "sipsim-client-7f3a",
      "client_secret": "wrong"}, 401, "invalid_client"),
    ({"grant_type": "client_credentials", "client_id": "nobody",
      "client_secret": "sipsim-client-secret-9d1c2b"}, 401, "invalid_client"),
    ({"grant_type": "password", "client_id": "sipsim-client-7f3a",
      "client_secret": "sipsim-client-secret-9d1c2b"}, 400, "unsupported_grant_type"),
    ({"client_id": "sipsim-client-7f3a", "client_secret": "sipsim-client-secret-9d1c2b"},
     400, "invalid_request"),
    ({"grant_type": "client_credentials", "client_id": "sipsim-client-7f3a",
      "client_secret": "sipsim-client-secret-9d1c2b", "scope": "calls.read root"},
     400, "invalid_scope"),
], ids=["bad-secret", "bad-id", "bad-grant", "no-grant", "bad-scope"])
def test_token_endpoint_refusals(
    sim: Simulator, client: httpx.Client, form: dict[str, str], status: int, error: str
) -> None:
    response = client.post(f"{sim.url}/oauth/token", data=form)
    assert response.status_code == status and response.json()["error"] == error


# -- parameters --------------------------------------------------------------------------
def test_start_time_is_required(api: Api) -> None:
    assert error_of(api.get("/calls"), 400) == "start_time is required"
    assert "ISO 8601" in error_of(api.get("/calls", params={"start_time": "monday"}), 400)
    assert "ISO 8601" in error_of(api.get("/calls", params={"start_time": START,
                                                            "end_time": "later"}), 400)


@pytest.mark.parametrize(("limit", "ok"), [
    ("19", False), ("20", True), ("1000", True), ("1001", False), ("0", False),
    ("lots", False),
])
def test_limit_is_20_to_1000(api: Api, limit: str, ok: bool) -> None:
    response = api.get("/calls", params={"start_time": START, "limit": limit})
    if ok:
        assert response.status_code == 200
        assert response.json()["pagination"]["limit"] == int(limit)
    else:
        assert error_of(response, 400) == "limit must be between 20 and 1000"


def test_default_limit_is_1000_and_the_envelope_is_documented(api: Api) -> None:
    body = api.get("/calls", params={"start_time": START}).json()
    assert set(body) == {"status", "request_id", "timestamp", "data", "pagination"}
    assert body["status"] == 200 and body["timestamp"] == "2026-11-01T12:00:00Z"
    assert body["pagination"] == {"count": len(body["data"]), "limit": 1000,
                                  "has_more": False}


def test_pages_walk_every_call_once_with_keyset_tokens(
    sim: Simulator, api: Api
) -> None:
    records = walk(api, start_time=START, limit=20)
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids)) > 100
    first = api.get("/calls", params={"start_time": START, "limit": 20}).json()
    token = first["pagination"]["page"]
    assert orjson.loads(base64.b64decode(token)) == {"id": first["data"][-1]["id"]}
    assert first["pagination"]["count"] == 20 and first["pagination"]["has_more"]


def test_order_is_newest_registration_first_or_oldest_first(
    sim: Simulator, api: Api
) -> None:
    newest_first = [r["id"] for r in walk(api, start_time=START, limit=50)]
    sipsim(sim).order = "asc"
    oldest_first = [r["id"] for r in walk(api, start_time=START, limit=50)]
    assert newest_first == oldest_first[::-1]
    since = datetime(2026, 10, 1, tzinfo=UTC)
    assert oldest_first[0] == next(c["id"] for c in sipsim(sim).all_calls()
                                   if registered(c) >= since)


@pytest.mark.parametrize("token", ["%%%", base64.b64encode(b"[1]").decode(),
                                   page_token("call_does_not_exist")],
                         ids=["not-base64", "not-an-object", "unknown-id"])
def test_bad_page_token_is_400(api: Api, token: str) -> None:
    response = api.get("/calls", params={"start_time": START, "page": token})
    assert error_of(response, 400) == "Invalid page token"


def registered(call: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(call["registration_time"].replace("Z", "+00:00"))


def test_time_filter_reads_registration_time_both_ends_inclusive(
    sim: Simulator, api: Api
) -> None:
    calls = sipsim(sim).all_calls()
    low, high = registered(calls[10]), registered(calls[20])
    params = {"start_time": low.isoformat(), "end_time": high.isoformat()}
    got = {r["id"] for r in api.get("/calls", params=params).json()["data"]}
    assert got == {c["id"] for c in calls[10:21]}
    unanswered = [c for c in calls if c["start_time"] is None]
    assert unanswered  # a filter on start_time could never return these


def test_end_time_defaults_to_now(sim: Simulator, api: Api) -> None:
    later = sipsim(sim).now + timedelta(minutes=5)
    sipsim(sim).put_raw({"id": "future", "registration_time": later.isoformat()}, later)
    since = datetime(2026, 10, 1, tzinfo=UTC)
    expected = {c["id"] for c in sipsim(sim).all_calls()
                if since <= registered(c) <= sipsim(sim).now}
    assert {r["id"] for r in walk(api, start_time=START)} == expected
    assert "future" not in expected


def kind(call: dict[str, Any]) -> str:
    return str(call.get("call_type") or call.get("direction")).lower()


@pytest.mark.parametrize(("types", "kinds"), [
    ("missed", {"missed"}), ("outgoing", {"outbound", "outgoing"}),
    ("inbound,voicemail", {"inbound", "voicemail"}),
])
def test_call_types_filter(api: Api, types: str, kinds: set[str]) -> None:
    records = walk(api, start_time=START, call_types=types)
    assert records and {kind(r) for r in records} == kinds


def test_unknown_call_type_is_400(api: Api) -> None:
    response = api.get("/calls", params={"start_time": START, "call_types": "outbound"})
    assert "call_types" in error_of(response, 400)


def test_tags_and_search_filter(sim: Simulator, api: Api) -> None:
    tagged = walk(api, start_time=START, tags="20")
    assert tagged and all(20 in {t["id"] for t in r["tags"]} for r in tagged)
    number = next(c["caller_number"] for c in sipsim(sim).all_calls()
                  if str(c["caller_number"]).startswith("+375"))
    found = walk(api, start_time=START, search=number)
    assert found and all(number in (r["caller_number"], r.get("target_number"),
                                    r.get("receiver_number")) for r in found)


def test_one_call_by_integer_or_string_id(sim: Simulator, api: Api) -> None:
    calls = sipsim(sim).all_calls()
    for wanted in (next(c for c in calls if isinstance(c["id"], int)),
                   next(c for c in calls if isinstance(c["id"], str))):
        body = api.get(f"/calls/{wanted['id']}").json()
        assert body["status"] == 200 and body["data"] == wanted
    missing = api.get("/calls/999")
    assert missing.status_code == 404 and missing.json()["errors"] == ["Call not found"]


# -- seeded data -------------------------------------------------------------------------
def test_seeded_calls_cover_every_documented_form(sim: Simulator) -> None:
    calls = sipsim(sim).all_calls()
    assert len(calls) == 200
    assert Counter("call_type" in c for c in calls).keys() == {True, False}
    assert any("receiver_number" in c for c in calls) and any("target_number" in c
                                                              for c in calls)
    assert {type(c["id"]) for c in calls} == {int, str}
    statuses = {c["sip_status"] for c in calls}
    assert {"answer", "ANSWER", "no_answer", "NOANSWER", "No-Answer", "cancel", "busy",
            "unavailable", "other"} <= statuses
    types = {kind(c) for c in calls}
    assert {"inbound", "outbound", "outgoing", "missed", "voicemail"} <= types
    stamps = [c["registration_time"] for c in calls]
    assert any(s.endswith("Z") for s in stamps)
    assert any(s.endswith(".000+03:00") for s in stamps)
    assert any(c["start_time"] is None for c in calls)  # unanswered: no start_time
    live = calls[-1]
    assert live["end_time"] is None and live["answered"] and live["duration_sec"] is None


def test_same_seed_same_calls_other_seed_other_calls() -> None:
    assert SipsimSim(seed=3).all_calls() == SipsimSim(seed=3).all_calls()
    assert SipsimSim(seed=3).all_calls() != SipsimSim(seed=4).all_calls()
