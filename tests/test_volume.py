"""The simulators' lazy ("volume") mode: calls made on demand, served like eager ones.

Every provider is walked over real HTTP with its own pagination; time filters, cursors
and the records themselves are checked against the same simulator's `all_calls()`, and
each page must build only its own records (counted by the simulator's `made`).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from pipelines import sync
from simulator import build
from simulator.server import Simulator
from simulator.sipsim import page_token
from simulator.volume import EagerOnly, Style, micros, stamp
from sources._time import parse_timestamp
from tests.conftest import NOW, configure, query

SIZE = 230  # several pages at the walks' page sizes, a short last one
BIG = 1_000_000  # calls per partition for the "a page builds only its page" checks
PROVIDERS = ("bland", "sipsim", "unpod", "jambonz")


@pytest.fixture
def lazy() -> Iterator[Simulator]:
    with build(seed=7, size=SIZE, now=NOW, lazy=True) as simulator:
        yield simulator


@pytest.fixture(scope="module")
def big() -> Iterator[Simulator]:
    with build(seed=7, size=BIG, now=NOW, lazy=True) as simulator:
        yield simulator


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client() as plain:
        yield plain


def ts(value: object) -> datetime:
    parsed = parse_timestamp(value)
    assert parsed is not None, value
    return parsed


# -- each provider's own page walk ----------------------------------------------------
def walk_bland(http: httpx.Client, sim: Simulator, number: str, limit: int = 100,
               ) -> list[dict[str, Any]]:
    bland = sim.providers["bland"]
    calls: list[dict[str, Any]] = []
    params: dict[str, Any] = {"phone_number": number, "limit": limit}
    while True:
        response = http.get(f"{sim.url}/v1/sip/calls", params=params,
                            headers={"authorization": bland.api_key})
        assert response.status_code == 200, response.text
        page = response.json()["data"]["calls"]
        calls += page
        if len(page) < limit:
            return calls
        params["before"] = page[-1]["call_id"]


def walk_sipsim(http: httpx.Client, sim: Simulator, limit: int = 100,
                **filters: str) -> list[dict[str, Any]]:
    sipsim = sim.providers["sipsim"]
    calls: list[dict[str, Any]] = []
    params: dict[str, Any] = {"start_time": "2000-01-01T00:00:00Z", "limit": limit, **filters}
    while True:
        response = http.get(f"{sim.url}/api/v2/calls", params=params,
                            headers={"authorization": f"Bearer {sipsim.access_token}"})
        assert response.status_code == 200, response.text
        body = response.json()
        calls += body["data"]
        if not body["pagination"]["has_more"]:
            return calls
        params["page"] = body["pagination"]["page"]


def walk_unpod(http: httpx.Client, sim: Simulator, page_size: int = 100,
               **filters: str) -> list[dict[str, Any]]:
    unpod = sim.providers["unpod"]
    calls: list[dict[str, Any]] = []
    page = 1
    while True:
        response = http.get(f"{sim.url}/api/v2/platform/call-logs/", params={
            "page": page, "page_size": page_size, **filters}, headers={
            "Authorization": f"Token {unpod.api_token}", "Org-Handle": unpod.org_handle})
        assert response.status_code == 200, response.text
        body = response.json()
        calls += body["data"]
        if page * page_size >= body["count"]:
            assert len(calls) == body["count"]
            return calls
        page += 1


def walk_jambonz(http: httpx.Client, sim: Simulator, count: int = 100,
                 **filters: str) -> list[dict[str, Any]]:
    jambonz = sim.providers["jambonz"]
    calls: list[dict[str, Any]] = []
    page = 1
    while True:
        response = http.get(
            f"{sim.url}/v1/Accounts/{jambonz.account_sid}/RecentCalls",
            params={"page": page, "count": count, **filters},
            headers={"authorization": f"Bearer {jambonz.api_key}"})
        assert response.status_code == 200, response.text
        body = response.json()
        calls += body["data"]
        if page * count >= body["total"]:
            assert len(calls) == body["total"]
            return calls
        page += 1


def unpod_key(call: dict[str, Any]) -> str:
    if call.get("id"):
        return str(call["id"])
    return f"{call['creation_time']}|{call['source_number']}|{call['destination_number']}"


def jambonz_key(call: dict[str, Any]) -> str:
    return str(call["call_sid"] or call["sip_callid"])


def newest_first(times: list[datetime]) -> bool:
    return all(a >= b for a, b in zip(times, times[1:], strict=False))


# -- walks: exactly `size` distinct calls per partition, in the documented order --------
def test_bland_walk_gives_every_call_of_each_number_newest_first(
    lazy: Simulator, client: httpx.Client,
) -> None:
    bland = lazy.providers["bland"]
    seen: dict[str, dict[str, Any]] = {}
    for number in bland.phone_numbers:
        calls = walk_bland(client, lazy, number)
        assert len({c["call_id"] for c in calls}) == len(calls) == SIZE
        assert newest_first([ts(c["started_at"]) for c in calls])
        assert all(number in (c["from"], c["to"]) for c in calls)
        seen.update({c["call_id"]: c for c in calls})
    assert len(seen) == bland.count() == 3 * SIZE - 1  # one call between two numbers
    assert sorted(seen) == sorted({c["call_id"] for c in bland.all_calls()})
    ringing = walk_bland(client, lazy, bland.phone_numbers[0], limit=1)[0]
    assert (ringing["status"], ringing["ended_at"]) == ("180 Ringing", None)


def test_sipsim_walk_gives_every_call_newest_first_or_oldest_first(
    lazy: Simulator, client: httpx.Client,
) -> None:
    sipsim = lazy.providers["sipsim"]
    calls = walk_sipsim(client, lazy, limit=20)
    assert len({str(c["id"]) for c in calls}) == len(calls) == SIZE == sipsim.count()
    assert newest_first([ts(c["registration_time"]) for c in calls])
    assert calls[0]["end_time"] is None  # the newest call is still going on
    sipsim.order = "asc"
    assert walk_sipsim(client, lazy, limit=20) == calls[::-1] == sipsim.all_calls()


def test_unpod_walk_gives_every_call_newest_first(
    lazy: Simulator, client: httpx.Client,
) -> None:
    unpod = lazy.providers["unpod"]
    calls = walk_unpod(client, lazy, page_size=100)
    assert len({unpod_key(c) for c in calls}) == len(calls) == SIZE == unpod.count()
    assert newest_first([ts(c["creation_time"]) for c in calls])
    assert calls == unpod.all_calls()
    assert calls[0]["call_status"] == "in-progress"
    assert {("id" in c, "bridge" in c, "agent" in c) for c in calls} == {
        (False, False, False), (True, True, False), (True, False, True)}  # three shapes


def test_jambonz_walk_gives_every_cdr_newest_first(
    lazy: Simulator, client: httpx.Client,
) -> None:
    jambonz = lazy.providers["jambonz"]
    calls = walk_jambonz(client, lazy, count=100)
    assert len({jambonz_key(c) for c in calls}) == len(calls) == SIZE == jambonz.count()
    times = [ts(c["attempted_at"]) for c in calls]
    assert newest_first(times)
    assert len(set(times)) == SIZE - 1  # one pair attempted in the same millisecond
    assert any(c["call_sid"] is None for c in calls)  # failed inbound: sip_callid only
    assert calls == jambonz.all_calls()


# -- time filters: exactly the calls in the window ---------------------------------------
def window(calls: list[dict[str, Any]], field: str) -> tuple[datetime, datetime]:
    """Bounds that are exact call times a third and two thirds down the list."""
    times = sorted(ts(c[field]) for c in calls)
    return times[len(times) // 3], times[2 * len(times) // 3]


def z(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def test_sipsim_time_filter_is_inclusive_at_both_ends(
    lazy: Simulator, client: httpx.Client,
) -> None:
    every = lazy.providers["sipsim"].all_calls()
    start, end = window(every, "registration_time")
    got = walk_sipsim(client, lazy, start_time=z(start), end_time=z(end))
    want = [c for c in every[::-1] if start <= ts(c["registration_time"]) <= end]
    assert got == want and len(want) > 50


def test_unpod_date_filters_select_exactly_the_window(
    lazy: Simulator, client: httpx.Client,
) -> None:
    every = lazy.providers["unpod"].all_calls()
    start, end = window(every, "creation_time")
    got = walk_unpod(client, lazy, start_date=z(start), end_date=z(end))
    assert got == [c for c in every if start <= ts(c["creation_time"]) <= end]
    day = end.date()
    through_day = walk_unpod(client, lazy, end_date=day.isoformat())
    assert through_day == [c for c in every if ts(c["creation_time"]).date() <= day]
    assert 0 < len(through_day) < SIZE


def test_jambonz_start_end_and_days_select_exactly_the_window(
    lazy: Simulator, client: httpx.Client,
) -> None:
    jambonz = lazy.providers["jambonz"]
    every = jambonz.all_calls()
    start, end = window(every, "attempted_at")
    got = walk_jambonz(client, lazy, start=z(start), end=z(end))
    assert got == [c for c in every if start <= ts(c["attempted_at"]) <= end]
    recent = walk_jambonz(client, lazy, days="5")
    after = jambonz.now - timedelta(days=5)
    assert recent == [c for c in every if ts(c["attempted_at"]) > after]
    assert walk_jambonz(client, lazy, start="2026-10-20T00:00:00") == []  # zone-less


def test_filters_beyond_time_scan_the_lazy_calls(lazy: Simulator, client: httpx.Client) -> None:
    sipsim, unpod, jambonz = (lazy.providers[s] for s in ("sipsim", "unpod", "jambonz"))
    tagged = walk_sipsim(client, lazy, limit=20, tags="20")
    assert tagged == [c for c in sipsim.all_calls()[::-1]
                      if 20 in {t["id"] for t in c["tags"]}]
    missed = walk_unpod(client, lazy, call_status="missed")
    assert missed == [c for c in unpod.all_calls() if c["call_status"].lower() == "missed"]
    answered = walk_jambonz(client, lazy, answered="true", direction="outbound")
    assert answered == [c for c in jambonz.all_calls()
                        if c["answered"] and c["direction"] == "outbound"]
    assert tagged and missed and answered


# -- records: the same every time, and only a page's worth built per page ----------------
def test_the_same_call_is_identical_every_time(lazy: Simulator, client: httpx.Client) -> None:
    number = lazy.providers["bland"].phone_numbers[2]
    assert walk_bland(client, lazy, number) == walk_bland(client, lazy, number)
    assert walk_jambonz(client, lazy) == walk_jambonz(client, lazy)
    again = build(seed=7, size=SIZE, now=NOW, lazy=True)
    for slug in PROVIDERS:
        assert again.providers[slug].all_calls() == lazy.providers[slug].all_calls(), slug
    other_seed = build(seed=8, size=SIZE, now=NOW, lazy=True)
    assert other_seed.providers["bland"].all_calls() != lazy.providers["bland"].all_calls()


def page_in_the_middle(sim: Simulator, http: httpx.Client, slug: str) -> list[dict[str, Any]]:
    """One page half-way down a million-call partition, asked for with the API's cursor."""
    provider = sim.providers[slug]
    middle = NOW - timedelta(weeks=provider.weeks) / 2
    if slug == "bland":
        before = provider._call_id(0, BIG // 2)
        return http.get(f"{sim.url}/v1/sip/calls", params={
            "phone_number": provider.phone_numbers[0], "limit": 1000, "before": before},
            headers={"authorization": provider.api_key}).json()["data"]["calls"]
    if slug == "sipsim":
        named = next(i for i in range(BIG // 2, BIG) if provider._lazy_id(i) == 4_100_000 + i)
        return http.get(f"{sim.url}/api/v2/calls", params={
            "start_time": z(middle - timedelta(days=1)), "end_time": z(middle + timedelta(days=1)),
            "page": page_token(4_100_000 + named), "limit": 1000},
            headers={"authorization": f"Bearer {provider.access_token}"}).json()["data"]
    if slug == "unpod":
        return http.get(f"{sim.url}/api/v2/platform/call-logs/", params={
            "page": 2000, "page_size": 100, "start_date": "2026-10-01"}, headers={
            "Authorization": f"Token {provider.api_token}",
            "Org-Handle": provider.org_handle}).json()["data"]
    return http.get(f"{sim.url}/v1/Accounts/{provider.account_sid}/RecentCalls", params={
        "page": 100, "count": 500, "start": z(middle - timedelta(days=3)), "end": z(middle)},
        headers={"authorization": f"Bearer {provider.api_key}"}).json()["data"]


@pytest.mark.parametrize("slug", PROVIDERS)
def test_a_page_builds_only_its_own_calls(
    big: Simulator, client: httpx.Client, slug: str,
) -> None:
    provider = big.providers[slug]
    provider.made = 0
    page = page_in_the_middle(big, client, slug)
    assert len(page) in (100, 500, 1000)
    assert provider.made == len(page)


def test_a_million_calls_are_counted_without_being_built(big: Simulator) -> None:
    made = {slug: big.providers[slug].made for slug in PROVIDERS}
    counts = {slug: big.providers[slug].count() for slug in PROVIDERS}
    assert counts == {"bland": 3 * BIG - 1, "sipsim": BIG, "unpod": BIG, "jambonz": BIG}
    assert {slug: big.providers[slug].made for slug in PROVIDERS} == made


# -- callsync over a lazy simulator --------------------------------------------------------
def loaded(warehouse: Path) -> dict[str, int]:
    return dict(query(warehouse, "select provider, count(*) from calls group by 1"))


def configure_all(monkeypatch: pytest.MonkeyPatch, sim: Simulator) -> None:
    for slug in PROVIDERS:
        configure(monkeypatch, sim, slug)


def test_sync_loads_exactly_the_lazy_calls(
    lazy: Simulator, warehouse: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    configure_all(monkeypatch, lazy)
    result = sync.run(warehouse)
    assert result.ok, [p.error for p in result.providers]
    assert loaded(warehouse) == {slug: lazy.providers[slug].count() for slug in PROVIDERS}


def test_extend_then_sync_loads_the_new_calls(
    warehouse: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    with build(seed=7, size=12, now=NOW, lazy=True) as sim:
        configure_all(monkeypatch, sim)
        assert sync.run(warehouse).ok
        before = {slug: sim.providers[slug].all_calls() for slug in PROVIDERS}
        for slug in PROVIDERS:
            sim.providers[slug].extend(5)
        after = {slug: sim.providers[slug].all_calls() for slug in PROVIDERS}

        result = sync.run(warehouse)

        assert result.ok, [p.error for p in result.providers]
        assert loaded(warehouse) == {"bland": 3 * 17 - 1, "sipsim": 17, "unpod": 17,
                                     "jambonz": 17}
        for slug in PROVIDERS:
            old = before[slug]
            assert [c for c in after[slug] if c in old] == old, slug  # nothing old changed
    ids = {row[0] for row in query(warehouse, "select call_id from calls")}
    newest_sipsim = max(after["sipsim"], key=lambda c: ts(c["registration_time"]))
    assert str(newest_sipsim["id"]) in ids


def test_lazy_mode_refuses_the_eager_mutations(lazy: Simulator) -> None:
    bland, sipsim, unpod, jambonz = (lazy.providers[s] for s in PROVIDERS)
    refusals: list[Callable[[], object]] = [
        lambda: bland.add_calls(1), lambda: bland.complete_call("x"),
        lambda: sipsim.add_calls(1), lambda: sipsim.put_raw({}, NOW),
        lambda: unpod.add_calls(1), lambda: unpod.complete_call("x"),
        lambda: jambonz.add_calls(1), lambda: jambonz.update_call("x"),
    ]
    for refuse in refusals:
        with pytest.raises(EagerOnly):
            refuse()


def test_eager_count_is_what_a_sync_loads(sim: Simulator) -> None:
    assert {slug: sim.providers[slug].count() for slug in PROVIDERS} == {
        "bland": 600, "sipsim": 200, "unpod": 200, "jambonz": 201}


# -- timestamps ---------------------------------------------------------------------------
@pytest.mark.parametrize(("zone", "spec"), [
    (UTC, "seconds"), (UTC, "milliseconds"), (UTC, "microseconds"),
    (timezone(timedelta(hours=3)), "milliseconds"),
    (timezone(timedelta(hours=5, minutes=30)), "microseconds"),
])
def test_stamp_writes_what_isoformat_writes(zone: timezone, spec: str) -> None:
    rng = random.Random(spec)
    for _ in range(2000):
        moment = datetime(1990, 1, 1, tzinfo=UTC) + timedelta(
            microseconds=rng.randrange(50 * 365 * 86_400 * 10**6))
        text = moment.astimezone(zone).isoformat(timespec=spec)
        for written in (text, text.replace("+00:00", "Z")):
            style, parsed = Style.of(written)
            assert stamp(micros(parsed), style) == written


def test_a_benchmark_simulator_counts_requests_without_keeping_them(
    big: Simulator, client: httpx.Client,
) -> None:
    big.clear_log()
    big.keep_requests = False
    try:
        calls = walk_unpod(client, big, start_date="2026-11-01T11:50:00Z")
        walk_unpod(client, big, start_date="2026-11-01T11:50:00Z")
    finally:
        big.keep_requests = True
    assert big.requests == []
    assert 200 < len(calls) < 400
    assert big.served["unpod"] == 2 * -(-len(calls) // 100)  # pages of 100, twice
