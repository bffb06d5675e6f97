"""Unpod end to end: simulator over real HTTP -> dlt -> DuckDB -> `calls`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import duckdb
import pytest
from dlt.common.versioned_state import decompress_state

from pipelines import sync
from pipelines.status import cursors
from pipelines.warehouse import pipelines_dir
from simulator.server import Simulator
from simulator.unpod import UnpodSim
from sources._time import parse_timestamp
from tests.conftest import NOW, calls_snapshot, configure, query

CALLS = "/call-logs/"


def unpod(sim: Simulator) -> UnpodSim:
    return sim.providers["unpod"]  # type: ignore[no-any-return]


def key(call: dict[str, Any]) -> str:
    """The contract's call_key, written out independently of the client's `call_id`."""
    if call.get("id"):
        return f"unpod:{call['id']}"
    return f"unpod:{call['creation_time']}|{call['source_number']}|{call['destination_number']}"


def expected_keys(sim: Simulator, since: datetime, until: datetime | None = None) -> set[str]:
    return {key(c) for c in unpod(sim).all_calls()
            if since <= parse_timestamp(c["creation_time"]) < (until or datetime.max.replace(
                tzinfo=UTC))}


def keys(warehouse: Path) -> list[str]:
    return [row[0] for row in query(warehouse, "select call_key from calls")]


def cursor(warehouse: Path) -> dict[str, Any]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return cursors(con, "unpod")


def test_first_sync_loads_exactly_the_calls_from_start_date(
    sim: Simulator, warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    start = datetime(2026, 10, 20, tzinfo=UTC)
    values = configure(monkeypatch, sim, "unpod", start_date="2026-10-20T02:00:00+02:00")
    result = sync.run(warehouse, names=["unpod"])
    assert result.ok, [p.error for p in result.providers]
    loaded = keys(warehouse)
    assert len(loaded) == len(set(loaded))  # no duplicate call_key
    assert set(loaded) == expected_keys(sim, start)
    assert len(loaded) > 100 and any("|" in k for k in loaded)  # records without an id too
    # the start goes out as the server-side filter; pages by number until count is reached
    pages = sim.requests_for("unpod")
    assert [(r.path, r.query) for r in pages] == [
        (urlsplit(values["base_url"]).path + "call-logs/",
         {"start_date": "2026-10-20T00:00:00Z", "page": str(n), "page_size": "100"})
        for n in (1, 2)]
    assert all(r.header("authorization") == f"Token {unpod(sim).api_token}"
               and r.header("org-handle") == unpod(sim).org_handle for r in pages)
    assert query(warehouse, "select distinct account_id from calls") == [("acme-sim",)]
    assert result.unknown["unpod"] > 0  # the odd statuses are rows, counted as unknown
    assert cursor(warehouse) == {"call_logs": max(
        parse_timestamp(c["creation_time"]) for c in unpod(sim).all_calls())}
    assert_no_credential(warehouse, unpod(sim).api_token)


def assert_no_credential(warehouse: Path, token: str) -> None:
    """Not in the raw tables, dlt's state in the warehouse, or dlt's working folder."""
    dump = str(query(warehouse, "select * from raw_unpod.call_logs"))
    state = query(warehouse, "select state from raw_unpod._dlt_pipeline_state")
    dump += "".join(str(decompress_state(s)) for (s,) in state)
    for path in pipelines_dir(warehouse).rglob("*"):
        if path.is_file():
            dump += path.read_bytes().decode("utf-8", "replace")
    assert "call_logs" in dump and "acme-sim" in dump
    assert token not in dump


def test_noop_sync_makes_one_request_and_changes_nothing(
    sim: Simulator, warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, sim, "unpod")
    assert sync.run(warehouse, names=["unpod"]).ok
    before = calls_snapshot(warehouse)
    last = cursor(warehouse)["call_logs"]
    sim.clear_log()

    result = sync.run(warehouse, names=["unpod"])

    assert result.ok
    # One request is the fewest possible: only the API can say that nothing is new, and
    # the lag-applied cursor sent as start_date makes its first page the whole answer
    # (count <= page_size), so the walk ends there.
    pages = sim.requests_for("unpod")
    assert len(pages) == 1 and result.providers[0].requests == 1
    assert pages[0].query == {"start_date": (last - timedelta(hours=1)).isoformat().replace(
        "+00:00", "Z"), "page": "1", "page_size": "100"}
    assert calls_snapshot(warehouse) == before
    assert (result.providers[0].new, result.providers[0].updated) == (0, 0)
    assert cursor(warehouse)["call_logs"] == last


def test_call_completed_inside_the_lookback_is_updated_and_new_calls_appear(
    sim: Simulator, warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, sim, "unpod")
    assert sync.run(warehouse, names=["unpod"]).ok
    ongoing = unpod(sim).all_calls()[0]
    row = "select status, answered, ended_at is null, duration_seconds from calls " \
          "where call_key = ?"
    assert query(warehouse, row, [key(ongoing)]) == [("unknown", True, True, 0)]
    unpod(sim).complete_call(UnpodSim.key_of(ongoing), duration=61)
    added = unpod(sim).add_calls(2, variant="calls") + unpod(sim).add_calls(1, variant="logs")

    result = sync.run(warehouse, names=["unpod"])

    assert result.ok
    assert (result.providers[0].new, result.providers[0].updated) == (3, 1)
    assert query(warehouse, row, [key(ongoing)]) == [("completed", True, False, 61)]
    assert {key(c) for c in added} <= set(keys(warehouse))
    assert query(warehouse, "select count(*) - count(distinct call_key) from calls") == [(0,)]
    assert len(keys(warehouse)) == len(unpod(sim).all_calls())


def test_backfill_reloads_a_window_without_duplicates_or_moving_the_cursor(
    sim: Simulator, warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, sim, "unpod")
    assert sync.run(warehouse, names=["unpod"]).ok
    before, cursor_before = calls_snapshot(warehouse), cursor(warehouse)
    start = datetime(2026, 10, 25, tzinfo=UTC)
    sim.clear_log()

    result = sync.run(warehouse, names=["unpod"], start=start, end=start + timedelta(days=2))

    assert result.ok
    assert cursor(warehouse) == cursor_before
    assert calls_snapshot(warehouse) == before
    window = expected_keys(sim, start, start + timedelta(days=2))
    assert result.providers[0].records == len(window) > 0
    assert [(r.query["start_date"], r.query["end_date"]) for r in sim.requests_for("unpod")] \
        == [("2026-10-25T00:00:00Z", "2026-10-27T00:00:00Z")]
    raw = query(warehouse, "select call_id from raw_unpod.call_logs where fetched_at = "
                "(select max(fetched_at) from raw_unpod.call_logs)")
    assert {f"unpod:{r[0]}" for r in raw} == window

    sim.clear_log()  # without --end: up to now, and still a window (the cursor stays)
    result = sync.run(warehouse, names=["unpod"], start=start)
    assert result.ok and cursor(warehouse) == cursor_before
    assert result.providers[0].records == len(expected_keys(sim, start))
    [params] = [r.query for r in sim.requests_for("unpod")]
    end = params.pop("end_date")  # the open end is the sync's start (no far-future sentinel)
    assert params == {"start_date": "2026-10-25T00:00:00Z", "page": "1", "page_size": "100"}
    assert parse_timestamp(end) is not None and parse_timestamp(end) > NOW
    assert calls_snapshot(warehouse) == before


def test_hostile_next_link_gets_no_request_and_paging_goes_on_by_number(
    sim: Simulator, warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Simulator() as elsewhere:  # another loopback port: another origin
        unpod(sim).links = "hostile"
        unpod(sim).hostile_url = elsewhere.url
        configure(monkeypatch, sim, "unpod", page_size=40)
        result = sync.run(warehouse, names=["unpod"])
    assert result.ok, result.providers[0].error
    assert elsewhere.requests == []  # no request at all, so no token and no org handle
    pages = sim.requests_for("unpod", CALLS)
    assert [r.query["page"] for r in pages] == ["1", "2", "3", "4", "5"]
    assert set(keys(warehouse)) == expected_keys(sim, NOW - timedelta(weeks=4))


def test_next_link_on_our_origin_is_followed(
    sim: Simulator, warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    unpod(sim).links = "present"
    configure(monkeypatch, sim, "unpod", page_size=70)
    assert sync.run(warehouse, names=["unpod"]).ok
    pages = sim.requests_for("unpod", CALLS)
    assert [r.query["page"] for r in pages] == ["1", "2", "3"]
    # pages 2 and 3 are the `next` links as served (the simulator writes them itself)
    first = pages[0].query
    assert all(r.query == {**first, "page": r.query["page"]} for r in pages)
    assert set(keys(warehouse)) == expected_keys(sim, NOW - timedelta(weeks=4))


def test_server_ignoring_start_date_still_stops_below_the_cursor(
    sim: Simulator, warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, sim, "unpod", page_size=50)
    assert sync.run(warehouse, names=["unpod"]).ok
    before = calls_snapshot(warehouse)
    unpod(sim).honor_date_filters = False
    sim.clear_log()
    assert sync.run(warehouse, names=["unpod"]).ok
    # newest first: dlt's row_order="desc" closes the walk on the first page that reaches
    # below the cursor minus the lookback, instead of reading all four pages
    assert len(sim.requests_for("unpod", CALLS)) == 1
    assert calls_snapshot(warehouse) == before


def test_records_without_id_or_time_are_kept_raw_and_rejected(
    sim: Simulator, warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = NOW - timedelta(days=1)
    unpod(sim).put_raw({"source_number": "+911", "call_status": "completed"}, at)
    unpod(sim).put_raw({"id": "call_badtime", "creation_time": "someday"}, at)
    configure(monkeypatch, sim, "unpod")
    result = sync.run(warehouse, names=["unpod"])
    assert result.ok and result.rejected == {"unpod": 2}
    assert sorted(query(warehouse, "select reason from calls_rejected")) == [
        ("missing call_id",), ("missing or unreadable started_at",)]
    raw = query(warehouse, "select count(*) from raw_unpod.call_logs")[0][0]
    assert raw == len(unpod(sim).all_calls()) == len(keys(warehouse)) + 2


def test_lookback_zero_rereads_the_cursor_second_and_loads_ties(
    sim: Simulator, warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, sim, "unpod", lookback=0)
    assert sync.run(warehouse, names=["unpod"]).ok
    newest = unpod(sim).all_calls()[0]
    tie = dict(newest, id="call_tie_0001", source_number="+919000000001")
    unpod(sim).put_raw(tie, parse_timestamp(newest["creation_time"]))
    sim.clear_log()
    assert sync.run(warehouse, names=["unpod"]).ok
    (request,) = sim.requests_for("unpod")
    assert parse_timestamp(request.query["start_date"]) == parse_timestamp(
        newest["creation_time"])
    assert "unpod:call_tie_0001" in keys(warehouse)
    assert len(keys(warehouse)) == len(set(keys(warehouse)))


@pytest.mark.parametrize(("status", "expected"), [
    (401, "HTTP 401 (the credential was refused: check the configured key): "
     "Authentication credentials were not provided."),
    (403, "HTTP 403 (forbidden: check the key's permissions and the account or org): "
     "Token has expired."),
], ids=["wrong-token", "expired-token"])
def test_refused_token_fails_with_one_line_and_no_secret(
    sim: Simulator, warehouse: Path, monkeypatch: pytest.MonkeyPatch, status: int,
    expected: str,
) -> None:
    token = unpod(sim).expired_token if status == 403 else "unpod-wrong-token-31337"
    configure(monkeypatch, sim, "unpod", api_token=token)
    result = sync.run(warehouse, names=["unpod"])
    error = result.providers[0].error or ""
    assert not result.ok and expected in error and "\n" not in error
    assert token not in error
    assert len(sim.requests_for("unpod")) == 1  # not retried


def test_transient_failures_are_retried(
    sim: Simulator, warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, sim, "unpod")
    sim.fail_next(429, provider="unpod", headers={"Retry-After": "0"})
    sim.fail_next(503, provider="unpod")
    monkeypatch.setattr("sources._http.random.uniform", lambda a, b: 0.0)  # no waiting
    result = sync.run(warehouse, names=["unpod"])
    assert result.ok
    assert result.providers[0].requests == len(sim.requests_for("unpod")) == 4  # 2 + 2 pages
    assert set(keys(warehouse)) == expected_keys(sim, NOW - timedelta(weeks=4))


@pytest.mark.parametrize(("override", "named"), [
    ({"org_handle": None}, "SOURCES__UNPOD__ORG_HANDLE"),
    ({"org_handle": "acme sim"}, "SOURCES__UNPOD__ORG_HANDLE"),
    ({"api_token": None}, "SOURCES__UNPOD__API_TOKEN"),
    ({"page_size": "500"}, "SOURCES__UNPOD__PAGE_SIZE"),
    ({"page_size": "many"}, "SOURCES__UNPOD__PAGE_SIZE"),
    ({"base_url": "unpod.dev/api"}, "SOURCES__UNPOD__BASE_URL"),
    ({"start_date": "last tuesday"}, "SOURCES__UNPOD__START_DATE"),
    ({"lookback": "an hour"}, "SOURCES__UNPOD__LOOKBACK"),
], ids=["no-org", "bad-org", "no-token", "big-page", "text-page", "bad-url", "bad-start",
        "bad-lookback"])
def test_configuration_errors_name_the_key_before_any_request(
    sim: Simulator, warehouse: Path, monkeypatch: pytest.MonkeyPatch,
    override: dict[str, Any], named: str,
) -> None:
    configure(monkeypatch, sim, "unpod", **override)
    with pytest.raises(sync.Refused) as refused:
        sync.run(warehouse, names=["unpod"])
    error = str(refused.value)
    assert named in error and "\n" not in error and not warehouse.exists()
    assert sim.requests == []
    assert unpod(sim).api_token not in error

