"""The jambonz simulator behaves as `sources/jambonz/README.md` (API notes) says the server does."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from simulator.jambonz import JambonzSim
from simulator.server import Simulator
from sources._time import parse_timestamp
from tests.conftest import NOW


def started(**kwargs: Any) -> Simulator:
    simulator = Simulator()
    simulator.add_provider("jambonz", JambonzSim(seed=7, size=200, now=NOW, **kwargs))
    return simulator.start()


@pytest.fixture(scope="module")
def shared() -> Iterator[Simulator]:
    """One simulator for the tests that only read (stopping one costs half a second)."""
    simulator = started()
    yield simulator
    simulator.stop()


@pytest.fixture
def sim() -> Iterator[Simulator]:
    """A simulator of its own, for a test that changes it."""
    simulator = started()
    yield simulator
    simulator.stop()


def jambonz(sim: Simulator) -> JambonzSim:
    return sim.providers["jambonz"]  # type: ignore[no-any-return]


def get(sim: Simulator, endpoint: str = "RecentCalls", sid: str | None = None,
        key: str | None = None, **params: Any) -> httpx.Response:
    jz = jambonz(sim)
    key = jz.api_key if key is None else key
    headers = {"authorization": f"Bearer {key}"} if key else {}
    return httpx.get(f"{sim.url}/v1/Accounts/{sid or jz.account_sid}/{endpoint}",
                     params=params, headers=headers)


def attempted(record: dict[str, Any]) -> datetime:
    parsed = parse_timestamp(record["attempted_at"])
    assert parsed is not None
    return parsed


@pytest.mark.parametrize("endpoint", ["RecentCalls", "Calls"])
@pytest.mark.parametrize("key", ["wrong-key", ""], ids=["wrong", "missing"])
def test_bad_or_missing_token_is_a_plain_text_401(
    shared: Simulator, endpoint: str, key: str
) -> None:
    response = get(shared, endpoint, key=key, page=1, count=5)
    assert response.status_code == 401
    assert response.text == "Unauthorized"
    assert response.headers["content-type"].startswith("text/plain")


def test_bearer_scheme_is_required(shared: Simulator) -> None:
    response = httpx.get(f"{shared.url}/v1/Accounts/{jambonz(shared).account_sid}/Calls",
                         headers={"authorization": jambonz(shared).api_key})
    assert response.status_code == 401


@pytest.mark.parametrize(("endpoint", "body"), [
    ("RecentCalls", {"status": "fail", "message": "insufficient privileges"}),
    ("Calls", {"msg": "insufficient permissions"}),
])
def test_another_accounts_sid_is_403(shared: Simulator, endpoint: str, body: object) -> None:
    response = get(shared, endpoint, sid=jambonz(shared).other_account_sid, page=1, count=5)
    assert (response.status_code, response.json()) == (403, body)


@pytest.mark.parametrize("endpoint", ["RecentCalls", "Calls"])
def test_non_uuid_sid_is_400(shared: Simulator, endpoint: str) -> None:
    response = get(shared, endpoint, sid="AC123", page=1, count=5)
    assert response.status_code == 400
    assert response.json() == {"status": "fail", "message": "invalid AccountsSid format"}


@pytest.mark.parametrize(("params", "status", "body"), [
    ({"page": 1}, 400, {"msg": "missing or invalid \"count\" query arg"}),
    ({"page": 1, "count": 501}, 400, {"msg": "missing or invalid \"count\" query arg"}),
    ({"page": 1, "count": "abc"}, 500, None),
    ({"count": 5}, 400, None),
    ({"page": 0, "count": 5}, 400, None),
], ids=["count-missing", "count-over-500", "count-not-a-number", "page-missing", "page-0"])
def test_required_params(shared: Simulator, params: dict[str, Any], status: int,
                         body: object) -> None:
    response = get(shared, **params)
    assert response.status_code == status
    assert "msg" in response.json()
    if body is not None:
        assert response.json() == body


def test_server_envelope_pages_newest_first_with_strings(shared: Simulator) -> None:
    everything = jambonz(shared).all_calls()
    first, second = get(shared, page=1, count=7).json(), get(shared, page=2, count=7).json()
    assert set(first) == {"total", "page_size", "page", "data"}
    assert (first["total"], first["page_size"], first["page"]) == (len(everything), "7", "1")
    assert first["data"] + second["data"] == everything[:14]
    times = [attempted(r) for r in everything]
    assert times == sorted(times, reverse=True)
    past = get(shared, page=1000, count=7).json()
    assert (past["total"], past["data"]) == (len(everything), [])


def test_docs_envelope_has_batch_and_numbers(sim: Simulator) -> None:
    jambonz(sim).envelope = "docs"
    body = get(sim, page=2, count=7).json()
    assert set(body) == {"total", "batch", "page", "data"}
    assert (body["batch"], body["page"], len(body["data"])) == (7, 2, 7)


def test_count_0_means_no_limit(shared: Simulator) -> None:
    body = get(shared, page=1, count=0).json()
    assert len(body["data"]) == body["total"] == len(jambonz(shared).all_calls())


def test_records_have_the_servers_forms(shared: Simulator) -> None:
    records = jambonz(shared).all_calls()
    texts = [r["attempted_at"] for r in records]
    assert all(isinstance(t, str) and t.endswith("Z") for t in texts)
    assert any(t.endswith(":00Z") or t[-4] == ":" for t in texts)  # a whole second: `:35Z`
    assert any(len(t.split(".")[-1]) < 4 for t in texts if "." in t)  # trailing 0 trimmed
    assert all(len(r["terminated_at"]) == 24 for r in records)  # always 3 decimals
    unanswered = [r for r in records if not r["answered"]]
    assert unanswered and all(r["answered_at"] == "1970-01-01T00:00:00.000Z"
                              for r in unanswered)
    failed_inbound = [r for r in unanswered if r["direction"] == "inbound"]
    assert failed_inbound and all(r["call_sid"] is None and r["sip_callid"]
                                  for r in failed_inbound)
    assert not [r for r in unanswered if r["direction"] == "inbound" and r["sip_status"] == 487]
    assert {r["sip_status"] for r in records} >= {200, 486, 600, 603, 408, 480, 487, 404, 503}
    recorded = [r["recording_url"] for r in records if r.get("recording_url")]
    assert recorded and all(u.startswith(f"/Accounts/{jambonz(shared).account_sid}/RecentCalls/")
                            and u.endswith("/mp3") for u in recorded)
    ties = [t for t in {attempted(r) for r in records}
            if sum(attempted(r) == t for r in records) > 1]
    assert len(ties) == 1  # two calls attempted in the same millisecond


def test_docs_time_format_is_epoch_ms_and_swagger_call_id_name(sim: Simulator) -> None:
    jz = jambonz(sim)
    jz.time_format, jz.call_id_field = "epoch_ms", "sip_call_id"
    records = get(sim, page=1, count=50).json()["data"]
    assert all(isinstance(r["attempted_at"], int) and r["attempted_at"] > 10**12
               for r in records)
    assert all(r["answered_at"] == 0 for r in records if not r["answered"])
    assert all("sip_call_id" in r and "sip_callid" not in r for r in records)


def test_start_and_end_filter_inclusively(shared: Simulator) -> None:
    everything = jambonz(shared).all_calls()
    lo, hi = attempted(everything[20]), attempted(everything[10])
    body = get(shared, page=1, count=100, start=lo.isoformat(), end=hi.isoformat()).json()
    assert body["data"] == [r for r in everything if lo <= attempted(r) <= hi]
    assert body["total"] == 11
    offset = get(shared, page=1, count=100, start=lo.astimezone().isoformat().replace(
        "+00:00", "+00:00"), end=(hi + timedelta(hours=2)).isoformat().replace(
        "+00:00", "+02:00")).json()
    assert offset["total"] == 11  # an offset zone is read as such


@pytest.mark.parametrize("bound", [
    "2026-10-20T00:00:00", "2026-10-20 00:00:00", "1792800000000", "yesterday",
], ids=["zone-less", "space-no-zone", "epoch-ms", "garbage"])
def test_unzoned_or_unreadable_bound_silently_matches_nothing(shared: Simulator,
                                                              bound: str) -> None:
    response = get(shared, page=1, count=10, start=bound)
    assert response.status_code == 200
    assert response.json() == {"total": 0, "page_size": "10", "page": "1", "data": []}


def test_date_only_end_is_midnight_utc(shared: Simulator) -> None:
    body = get(shared, page=1, count=0, end="2026-10-25").json()
    midnight = datetime(2026, 10, 25, tzinfo=UTC)
    assert body["data"] and all(attempted(r) <= midnight for r in body["data"])
    assert body["total"] == sum(attempted(r) <= midnight for r in jambonz(shared).all_calls())


def test_days_overrides_start_and_end(shared: Simulator) -> None:
    jz = jambonz(shared)
    body = get(shared, page=1, count=0, days=2, start="2020-01-01T00:00:00Z",
               end="2020-01-02T00:00:00Z").json()
    assert body["total"] == sum(attempted(r) > jz.now - timedelta(days=2)
                                for r in jz.all_calls()) > 0


def test_answered_direction_trunk_and_filter(shared: Simulator) -> None:
    everything = jambonz(shared).all_calls()
    answered = get(shared, page=1, count=0, answered="true").json()["data"]
    assert answered == [r for r in everything if r["answered"]]
    ignored = get(shared, page=1, count=0, answered="yes").json()["data"]
    assert ignored == everything  # any other value is ignored
    inbound = get(shared, page=1, count=0, direction="inbound").json()["data"]
    assert inbound == [r for r in everything if r["direction"] == "inbound"]
    device = get(shared, page=1, count=0, trunk="device").json()["data"]
    assert device == [r for r in everything if r["trunk"] == "device"]
    one = next(r for r in everything if r["call_sid"])
    assert get(shared, page=1, count=0, filter=one["call_sid"]).json()["data"] == [one]
    digits = one["to"].lstrip("+")[-7:]
    assert one in get(shared, page=1, count=0, filter=digits).json()["data"]
    assert get(shared, page=1, count=0, filter="+1(").status_code == 500  # unescaped regex


def test_live_calls_are_a_bare_unordered_array_with_exact_filters(shared: Simulator) -> None:
    jz = jambonz(shared)
    live = jz.live_calls()
    first, second = get(shared, "Calls").json(), get(shared, "Calls", page=1, count=1).json()
    assert isinstance(first, list) and len(first) == len(live) == 10
    key = lambda r: r["call_sid"]  # noqa: E731
    assert sorted(first, key=key) == sorted(second, key=key) == sorted(live, key=key)
    assert first != second  # no defined order (a Redis scan); page/count ignored
    assert {r["call_status"] for r in first} >= {"early-media", "alerting", "in-progress"}
    ringing = get(shared, "Calls", callStatus="ringing").json()
    assert [r["call_status"] for r in ringing] == ["ringing"]
    assert get(shared, "Calls", direction="sideways").json() == []


def test_rate_limit_headers_on_every_response_and_429_when_spent(sim: Simulator) -> None:
    jz = jambonz(sim)
    ticks = [1000.0]
    jz.timer, jz.rate_limit = (lambda: ticks[0]), 3
    ok = get(sim, page=1, count=1)
    assert ok.headers["ratelimit-policy"] == "3;w=300"
    assert (ok.headers["ratelimit-limit"], ok.headers["ratelimit-remaining"]) == ("3", "2")
    assert ok.headers["ratelimit-reset"] == "300"
    assert get(sim, key="bad").headers["ratelimit-remaining"] == "1"  # a 401 counts too
    ticks[0] += 100
    assert get(sim, "Calls").headers["ratelimit-remaining"] == "0"
    spent = get(sim, page=1, count=1)
    assert spent.status_code == 429
    assert (spent.headers["retry-after"], spent.headers["ratelimit-reset"]) == ("200", "200")
    ticks[0] += 200  # the window ends: a new bucket
    assert get(sim, page=1, count=1).status_code == 200


def test_same_time_and_tags_is_one_point(sim: Simulator) -> None:
    jz = jambonz(sim)
    before = len(jz.all_calls())
    at = datetime(2026, 10, 30, 8, 0, 0, 250000, tzinfo=UTC)
    tags = {"host": "10.0.1.2", "trunk": "Twilio"}
    jz.add_call_at(at, direction="outbound", **tags)
    jz.add_call_at(at, direction="inbound", **tags)  # other tags: a second point
    assert len(jz.all_calls()) == before + 2
    later = jz.add_call_at(at, direction="inbound", **tags)  # same tags: replaces
    at_that_time = [r for r in jz.all_calls() if attempted(r) == at]
    assert len(jz.all_calls()) == before + 2
    assert [r["direction"] for r in at_that_time] == ["inbound", "outbound"]
    assert later in at_that_time


def test_complete_call_moves_a_live_call_to_the_history(sim: Simulator) -> None:
    jz = jambonz(sim)
    live = next(c for c in jz.live_calls() if c["call_status"] == "in-progress")
    cdr = jz.complete_call(live["call_sid"], duration=61)
    assert live["call_sid"] not in {c["call_sid"] for c in jz.live_calls()}
    assert (cdr["call_sid"], cdr["answered"], cdr["sip_status"], cdr["duration"]) == (
        live["call_sid"], True, 200, 61)
    assert jz.all_calls()[0] == cdr or cdr in jz.all_calls()
