"""The Unpod simulator behaves as `sources/unpod/README.md` (API notes) says: auth, paging."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from simulator.server import Simulator
from simulator.unpod import UnpodSim
from tests.conftest import NOW


@pytest.fixture(scope="module")
def served() -> Iterator[Simulator]:
    """One Unpod simulator for the tests that only read (stopping one costs 0.5 s)."""
    with Simulator() as simulator:
        simulator.add_provider("unpod", UnpodSim(seed=7, size=200, now=NOW))
        yield simulator


@pytest.fixture
def unpod(served: Simulator) -> UnpodSim:
    return served.providers["unpod"]  # type: ignore[no-any-return]


def connect(sim: Simulator) -> httpx.Client:
    unpod = sim.providers["unpod"]
    headers = {"Authorization": f"Token {unpod.api_token}", "Org-Handle": unpod.org_handle}
    return httpx.Client(base_url=unpod.config(sim.url)["base_url"], headers=headers)


@pytest.fixture
def client(served: Simulator) -> Iterator[httpx.Client]:
    with connect(served) as c:
        yield c


def get(client: httpx.Client, headers: dict[str, str] | None = None,
        **params: Any) -> tuple[int, Any]:
    response = client.get("call-logs/", params=params, headers=headers)
    return response.status_code, response.json()


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


@pytest.mark.parametrize(("headers", "status", "message"), [
    ({"Authorization": ""}, 401, "Authentication credentials were not provided."),
    ({"Authorization": "Token wrong-token"}, 401,
     "Authentication credentials were not provided."),
    ({"Authorization": "Bearer unpod-test-token-4711"}, 401,
     "Authentication credentials were not provided."),
    ({"Authorization": "Token unpod-expired-token-0815"}, 403, "Token has expired."),
    ({"Org-Handle": ""}, 400, "Org-Handle header is required."),
], ids=["no-token", "wrong-token", "bearer", "expired", "no-org-handle"])
def test_auth_errors_are_the_documented_bodies(
    client: httpx.Client, headers: dict[str, str], status: int, message: str
) -> None:
    assert get(client, headers) == (status, {"status_code": status, "message": message})


def test_another_org_handle_is_forbidden(client: httpx.Client) -> None:
    status, body = get(client, {"Org-Handle": "someone-else"})
    assert status == 403 and body["status_code"] == 403


def test_envelope_newest_first_default_page_size_20(client: httpx.Client,
                                                     unpod: UnpodSim) -> None:
    status, body = get(client)
    assert status == 200
    assert set(body) == {"count", "status_code", "message", "data"}  # no next/previous
    assert body["count"] == unpod.size and body["status_code"] == 200
    assert len(body["data"]) == 20
    times = [parse(r["creation_time"]) for r in body["data"]]
    assert times == sorted(times, reverse=True)


@pytest.mark.parametrize(("page_size", "expected"), [
    (7, 7), (100, 100), (101, 100), (5000, 100), (0, 20), (-3, 20), ("abc", 20),
], ids=["7", "100", "101-capped", "5000-capped", "0-default", "negative-default",
        "text-default"])
def test_page_size_capped_at_100_and_invalid_means_default(
    client: httpx.Client, page_size: object, expected: int
) -> None:
    assert len(get(client, page_size=page_size)[1]["data"]) == expected


@pytest.mark.parametrize("page", [0, 3, "x"])
def test_page_out_of_range_is_400_invalid_page(client: httpx.Client, page: object) -> None:
    # 200 calls, 100 per page: pages 1 and 2 exist
    assert get(client, page=page, page_size=100) == (
        400, {"status_code": 400, "message": "Invalid page.", "data": {}})


def test_pages_cover_every_call_once(client: httpx.Client, unpod: UnpodSim) -> None:
    served = [r for n in (1, 2, 3) for r in get(client, page=n, page_size=70)[1]["data"]]
    assert served == unpod.all_calls()


def test_start_date_keeps_calls_created_since_then(client: httpx.Client,
                                                   unpod: UnpodSim) -> None:
    since = datetime(2026, 10, 30, 6, tzinfo=UTC)
    body = get(client, start_date="2026-10-30T06:00:00Z", page_size=100)[1]
    expected = [c for c in unpod.all_calls() if parse(c["creation_time"]) >= since]
    assert body["data"] == expected and body["count"] == len(expected) > 0


def test_end_date_and_a_bare_date_through_its_day(client: httpx.Client,
                                                  unpod: UnpodSim) -> None:
    until = datetime(2026, 10, 30, 6, tzinfo=UTC)
    body = get(client, end_date="2026-10-30T06:00:00+00:00", page_size=100)[1]
    assert body["count"] == sum(parse(c["creation_time"]) <= until for c in unpod.all_calls())
    day = get(client, start_date="2026-10-29", end_date="2026-10-29", page_size=100)[1]
    assert {parse(c["creation_time"]).date().isoformat() for c in day["data"]} == {
        "2026-10-29"}


def test_unreadable_date_filter_is_400(client: httpx.Client) -> None:
    status, body = get(client, start_date="last week")
    assert status == 400 and "start_date" in body["message"]


def test_call_type_and_status_filters_ignore_case(client: httpx.Client,
                                                  unpod: UnpodSim) -> None:
    body = get(client, call_type="INBOUND", call_status="Missed", page_size=100)[1]
    assert body["count"] == sum(c["call_type"].lower() == "inbound"
                                and c["call_status"].lower() == "missed"
                                for c in unpod.all_calls()) > 0


def test_next_and_previous_links_when_switched_on(sim: Simulator) -> None:
    unpod = sim.providers["unpod"]
    unpod.links = "present"
    with connect(sim) as client:
        first = get(client, page_size=100, start_date="2026-10-01")[1]
        assert first["previous"] is None
        link = urlsplit(first["next"])
        assert f"{link.scheme}://{link.netloc}" == sim.url
        assert parse_qs(link.query) == {"page": ["2"], "page_size": ["100"],
                                        "start_date": ["2026-10-01"]}
        last = client.get(first["next"]).json()
        assert last["next"] is None and last["previous"]
        unpod.links = "hostile"
        unpod.hostile_url = "http://127.0.0.1:1"
        assert get(client, page_size=100)[1]["next"].startswith("http://127.0.0.1:1/api/v2/")


def test_records_come_in_every_documented_shape(unpod: UnpodSim) -> None:
    calls = unpod.all_calls()
    assert any("id" not in c and "bridge" not in c for c in calls)  # get-call-logs
    assert any("bridge" in c and isinstance(c["call_duration"], str) for c in calls)  # calls
    assert any(isinstance(c["call_duration"], float) and "agent" in c for c in calls)
    durations = {c["call_duration"] for c in calls if isinstance(c["call_duration"], str)}
    assert "1 day, 2:03:04" in durations
    assert any(d.startswith("0") and len(d) == 8 for d in durations)  # HH:MM:SS
    assert any(len(d) == 7 for d in durations)  # H:MM:SS
    assert any(c["call_duration"] is None for c in calls)  # unreported
    stamps = [c["creation_time"] for c in calls]
    assert any(s.endswith(".000Z") for s in stamps)
    assert any(s.endswith("Z") and "." not in s for s in stamps)
    assert any(s.endswith("+05:30") for s in stamps)
    statuses = {c["call_status"] for c in calls}
    assert {"completed", "missed", "failed", "COMPLETED", "in-progress"} <= statuses
    assert statuses & {"success", "ANSWERED", "FAILURE", "REJECTED"}
    assert {c["call_type"] for c in calls} >= {"inbound", "outbound", "Inbound", "OUTBOUND"}
    missed = [c for c in calls if c["call_status"].lower() == "missed"]
    assert missed and all(c["start_time"] is None and c["end_time"] is None for c in missed)
    assert any("busy" in (c["end_reason"] or "").lower() for c in calls)


def test_same_seed_same_data_and_mutations(unpod: UnpodSim) -> None:
    assert UnpodSim(seed=7, size=200, now=NOW).all_calls() == unpod.all_calls()
    unpod = UnpodSim(seed=7, size=200, now=NOW)  # a copy to change
    ongoing = unpod.all_calls()[0]
    assert ongoing["call_status"] == "in-progress" and ongoing["end_time"] is None
    done = unpod.complete_call(UnpodSim.key_of(ongoing), duration=61)
    assert done["call_status"] == "completed" and done["end_time"]
    added = unpod.add_calls(2)
    assert unpod.all_calls()[:2] == added[::-1]
    assert parse(added[1]["creation_time"]) > parse(added[0]["creation_time"]) > NOW
