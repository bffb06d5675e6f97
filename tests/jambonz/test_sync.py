"""jambonz end to end: simulator over real HTTP -> dlt -> DuckDB -> `calls`, `active_calls`."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dlt.common.versioned_state import decompress_state

from pipelines import sync
from pipelines.status import cursors
from simulator.jambonz import JambonzSim
from simulator.server import Simulator
from sources._http import HostBoundAuth, Http, RetryPolicy
from sources._time import iso_z, parse_timestamp
from sources.jambonz.client import JambonzClient
from tests.conftest import calls_snapshot, configure, query

RECENT, LIVE = "/RecentCalls", "/Calls"


def jambonz(sim: Simulator) -> JambonzSim:
    return sim.providers["jambonz"]  # type: ignore[no-any-return]


def run(sim: Simulator, warehouse: Path, **kwargs: Any) -> sync.SyncResult:
    """One jambonz sync whose `end` bound is the simulator's clock, not the wall clock."""
    return sync.run(warehouse, names=["jambonz"],
                    overrides={"jambonz": {"clock": lambda: jambonz(sim).now}}, **kwargs)


def attempted(record: dict[str, Any]) -> datetime:
    parsed = parse_timestamp(record["attempted_at"])
    assert parsed is not None
    return parsed


def key(record: dict[str, Any]) -> str:
    return f"jambonz:{record['call_sid'] or record['sip_callid']}"


def expected_keys(sim: Simulator, since: datetime) -> set[str]:
    return {key(c) for c in jambonz(sim).all_calls() if attempted(c) >= since}


def active(warehouse: Path) -> dict[str, tuple[Any, ...]]:
    """`active_calls` by call_key, every column (observed_at last)."""
    rows = query(warehouse, "select call_key, * exclude (call_key, observed_at), observed_at "
                 "from active_calls")
    return {row[0]: row[1:] for row in rows}


def cursor_of(warehouse: Path) -> dict[str, Any]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return cursors(con, "jambonz")


def test_first_sync_loads_exactly_the_calls_from_start_date(
    sim: Simulator, warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    start = datetime(2026, 10, 20, tzinfo=UTC)
    values = configure(monkeypatch, sim, "jambonz", start_date=start.isoformat())
    result = run(sim, warehouse)
    assert result.ok, [p.error for p in result.providers]

    keys = {row[0] for row in query(warehouse, "select call_key from calls")}
    assert keys == expected_keys(sim, start) and len(keys) > 100
    assert any(not c["call_sid"] for c in jambonz(sim).all_calls())  # keyed by sip_callid
    assert query(warehouse, "select count(*) - count(distinct call_key) from calls") == [(0,)]
    assert query(warehouse, "select distinct account_id from calls") == [(values["account_sid"],)]
    # one page of CDRs, pinned to [start_date, the sync's start]; one list of live calls
    (page,) = sim.requests_for("jambonz", RECENT)
    assert page.query == {"start": "2026-10-20T00:00:00.000Z",
                          "end": "2026-11-01T12:00:00.000Z", "page": "1", "count": "500"}
    assert len(sim.requests_for("jambonz", LIVE)) == 1
    assert (result.providers[0].pages, result.providers[0].requests) == (2, 2)
    live = jambonz(sim).live_calls()
    assert set(active(warehouse)) == {f"jambonz:{c['call_sid']}" for c in live}
    assert query(warehouse, "select count(distinct status) from active_calls") == [(5,)]
    # the key never reaches a table or dlt's state
    dump = str(query(warehouse, "select * from raw_jambonz.recent_calls")) + str(
        query(warehouse, "select * from raw_jambonz.calls"))
    state = query(warehouse, "select state from raw_jambonz._dlt_pipeline_state")
    dump += str([decompress_state(s) for (s,) in state])
    assert values["api_key"] not in dump and "Bearer" not in dump


def test_noop_sync_makes_two_requests_and_changes_nothing(
    sim: Simulator, warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, sim, "jambonz")
    assert run(sim, warehouse).ok
    before, live_before = calls_snapshot(warehouse), active(warehouse)
    newest = attempted(jambonz(sim).all_calls()[0])
    sim.clear_log()

    result = run(sim, warehouse)

    assert result.ok
    # The minimum: RecentCalls has no "changed since" and no validator, so learning that
    # nothing is new takes one request, and one page (count=500) holds the lookback
    # window; the live Calls list has no paging and is read once to replace active_calls.
    assert len(sim.requests_for("jambonz")) == 2
    (page,) = sim.requests_for("jambonz", RECENT)
    assert page.query["start"] == iso_z(newest - timedelta(seconds=3600), "milliseconds")
    assert page.query["page"] == "1"
    assert len(sim.requests_for("jambonz", LIVE)) == 1
    assert calls_snapshot(warehouse) == before
    assert (result.providers[0].new, result.providers[0].updated) == (0, 0)
    after = active(warehouse)
    assert {k: v[:-1] for k, v in after.items()} == {k: v[:-1] for k, v in live_before.items()}
    assert all(after[k][-1] > live_before[k][-1] for k in after)  # observed_at moves on


def test_lookback_updates_a_call_and_new_calls_and_hangups_appear(
    sim: Simulator, warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    values = configure(monkeypatch, sim, "jambonz")
    assert run(sim, warehouse).ok
    jz = jambonz(sim)
    newest = next(c for c in jz.all_calls() if c["answered"] and c["call_sid"])
    assert attempted(newest) > attempted(jz.all_calls()[0]) - timedelta(seconds=3600)
    old = jz.all_calls()[50]  # far behind the cursor and its lookback
    path = f"/Accounts/{values['account_sid']}/RecentCalls/{newest['call_sid']}/record/x/mp3"
    jz.update_call(newest["call_sid"], duration=newest["duration"] + 7, recording_url=path)
    jz.update_call(old["call_sid"] or old["sip_callid"], duration=4242)
    talking = next(c for c in jz.live_calls() if c["call_status"] == "in-progress")
    jz.complete_call(talking["call_sid"], duration=61)
    added = jz.add_calls(3)

    result = run(sim, warehouse)

    assert result.ok
    assert (result.providers[0].new, result.providers[0].updated) == (4, 1)
    row = query(warehouse, "select duration_seconds, recording_url from calls "
                "where call_key = ?", [key(newest)])
    assert row == [(newest["duration"] + 7, values["base_url"] + path)]
    assert query(warehouse, "select duration_seconds from calls where call_key = ?",
                 [key(old)]) == [(old["duration"],)]  # outside the lookback: not re-read
    hung_up = f"jambonz:{talking['call_sid']}"
    assert query(warehouse, "select status, answered, duration_seconds from calls "
                 "where call_key = ?", [hung_up]) == [("completed", True, 61)]
    assert hung_up not in active(warehouse)
    for call in added:
        assert query(warehouse, "select count(*) from calls where call_key = ?",
                     [key(call)]) == [(1,)]
    assert query(warehouse, "select count(*) - count(distinct call_key) from calls") == [(0,)]


def test_pages_share_one_pinned_window_while_calls_arrive(
    sim: Simulator, warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, sim, "jambonz", page_size=25)
    jz = jambonz(sim)
    total = len(jz.all_calls())
    arrivals: list[dict[str, Any]] = []
    jz.after_page = lambda page: arrivals.extend(jz.add_calls(1)) if page < 4 else None

    assert run(sim, warehouse).ok

    pages = sim.requests_for("jambonz", RECENT)
    assert len(pages) == math.ceil(total / 25) > 4
    # each page once (read ahead, so not necessarily in order)
    assert sorted(int(p.query["page"]) for p in pages) == list(range(1, len(pages) + 1))
    assert len({(p.query["start"], p.query["end"]) for p in pages}) == 1
    # nothing shifted: every CDR of the window was read exactly once
    assert query(warehouse, "select count(*), count(distinct call_id) "
                 "from raw_jambonz.recent_calls") == [(total, total)]
    assert len(arrivals) == 3
    assert not {key(c) for c in arrivals} & {r[0] for r in query(
        warehouse, "select call_key from calls")}

    jz.after_page = None
    result = run(sim, warehouse)
    assert result.ok and result.providers[0].new == 3  # the next sync picks them up


def test_backfill_reloads_a_window_without_moving_the_cursor(
    sim: Simulator, warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, sim, "jambonz")
    assert run(sim, warehouse).ok
    before, cursor = calls_snapshot(warehouse), cursor_of(warehouse)
    start, end = datetime(2026, 10, 25, tzinfo=UTC), datetime(2026, 10, 27, tzinfo=UTC)
    jz = jambonz(sim)
    on_start = jz.add_call_at(start)  # [start, end): in
    on_end = jz.add_call_at(end)  # out
    in_window = [c for c in jz.all_calls() if start <= attempted(c) < end]
    sim.clear_log()

    result = run(sim, warehouse, start=start, end=end)

    assert result.ok
    (page,) = sim.requests_for("jambonz", RECENT)
    assert (page.query["start"], page.query["end"]) == (
        "2026-10-25T00:00:00.000Z", "2026-10-27T00:00:00.000Z")
    assert cursor_of(warehouse) == cursor
    loaded = query(warehouse, "select count(*) from raw_jambonz.recent_calls r join "
                   "(select max(fetched_at) as f from raw_jambonz.recent_calls) m "
                   "on r.fetched_at = m.f")
    assert loaded == [(len(in_window),)] and len(in_window) > 5
    after = calls_snapshot(warehouse)
    assert set(after) == set(before) | {key(on_start)}  # no duplicate, the new one added
    assert {k: after[k] for k in before} == before
    assert key(on_end) not in after


def test_lookback_0_rereads_the_cursor_instant_and_loads_ties(
    sim: Simulator, warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, sim, "jambonz", lookback=0)
    assert run(sim, warehouse).ok
    jz = jambonz(sim)
    newest = jz.all_calls()[0]
    tie = jz.add_call_at(attempted(newest), direction="inbound" if newest[
        "direction"] == "outbound" else "outbound")
    sim.clear_log()

    result = run(sim, warehouse)

    assert result.ok
    (page,) = sim.requests_for("jambonz", RECENT)
    assert page.query["start"] == iso_z(attempted(newest), "milliseconds")
    assert (result.providers[0].new, result.providers[0].updated) == (1, 0)
    assert query(warehouse, "select count(*) from calls where call_key in (?, ?)",
                 [key(newest), key(tie)]) == [(2,)]


def test_failed_sync_leaves_active_calls_as_they_were(
    sim: Simulator, warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, sim, "jambonz")
    assert run(sim, warehouse).ok
    before, calls_before = active(warehouse), calls_snapshot(warehouse)
    jz = jambonz(sim)
    talking = next(c for c in jz.live_calls() if c["call_status"] == "in-progress")
    jz.complete_call(talking["call_sid"])
    ringing = jz.add_live_call("ringing")

    # either endpoint failing (a 403 is not retried) loads nothing of the sync
    for endpoint, body in (("RecentCalls", {"status": "fail",
                                            "message": "insufficient privileges"}),
                           ("Calls", {"msg": "insufficient permissions"})):
        jz.fail_next_on(endpoint, 403, body)
        failed = run(sim, warehouse)
        assert not failed.ok and "HTTP 403" in (failed.providers[0].error or ""), endpoint
        assert active(warehouse) == before, endpoint
        assert calls_snapshot(warehouse) == calls_before, endpoint

    assert run(sim, warehouse).ok
    now_live = set(active(warehouse))
    assert f"jambonz:{ringing['call_sid']}" in now_live
    assert f"jambonz:{talking['call_sid']}" not in now_live
    assert len(now_live) == len(before)

    jz.live.clear()  # an empty list replaces the last one too
    assert run(sim, warehouse).ok
    assert active(warehouse) == {}


def test_refused_key_is_one_line_without_the_key(
    sim: Simulator, warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, sim, "jambonz", api_key="wrong-jambonz-key-123456")
    result = run(sim, warehouse)
    assert not result.ok
    error = result.providers[0].error or ""
    assert "HTTP 401" in error and "Unauthorized" in error and "check the configured key" in error
    assert "\n" not in error and "wrong-jambonz-key-123456" not in error
    assert len(sim.requests_for("jambonz", RECENT)) <= 1  # a 401 is not retried
    assert len(sim.requests_for("jambonz", LIVE)) <= 1


def test_another_accounts_sid_is_refused(
    sim: Simulator, warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, sim, "jambonz", account_sid=jambonz(sim).other_account_sid)
    result = run(sim, warehouse)
    error = result.providers[0].error or ""
    assert not result.ok and "HTTP 403" in error and "insufficient" in error


@pytest.mark.parametrize(("override", "named"), [
    ({"account_sid": "AC0123456789"}, "SOURCES__JAMBONZ__ACCOUNT_SID"),
    ({"account_sid": None}, "SOURCES__JAMBONZ__ACCOUNT_SID"),
    ({"api_key": None}, "SOURCES__JAMBONZ__API_KEY"),
    ({"page_size": 501}, "SOURCES__JAMBONZ__PAGE_SIZE"),
    ({"start_date": "soon"}, "SOURCES__JAMBONZ__START_DATE"),  # the shared checks, once
], ids=["sid-not-uuid", "sid-missing", "key-missing", "page-size", "start-date"])
def test_configuration_errors_fail_before_any_request(
    sim: Simulator, warehouse: Path, monkeypatch: pytest.MonkeyPatch,
    override: dict[str, Any], named: str,
) -> None:
    configure(monkeypatch, sim, "jambonz", **override)
    with pytest.raises(sync.Refused) as refused:
        run(sim, warehouse)
    assert named in str(refused.value)
    assert sim.requests == [] and not warehouse.exists()


def test_docs_forms_load_the_same_calls_as_the_servers(
    sim: Simulator, warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, sim, "jambonz")
    assert run(sim, warehouse).ok
    jz = jambonz(sim)
    jz.envelope, jz.time_format, jz.call_id_field = "docs", "epoch_ms", "sip_call_id"
    docs = warehouse.with_name("docs.duckdb")
    assert run(sim, docs).ok
    assert calls_snapshot(docs) == calls_snapshot(warehouse)
    assert len(calls_snapshot(docs)) == len(jz.all_calls())


def test_unusable_records_are_kept_raw_and_listed_as_rejected(
    sim: Simulator, warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, sim, "jambonz")
    jz = jambonz(sim)
    at = jz.now - timedelta(days=1)
    jz.put_raw({"account_sid": jz.account_sid, "call_sid": None, "answered": False,
                "attempted_at": at.isoformat()}, at)
    jz.put_raw({"account_sid": jz.account_sid, "call_sid": "c-no-time",
                "attempted_at": "last tuesday"}, at)
    result = run(sim, warehouse)
    assert result.ok and result.rejected == {"jambonz": 2}
    rejected = query(warehouse, "select reason, raw_table from calls_rejected order by 1")
    assert rejected == [("missing call_sid and sip_callid", "raw_jambonz.recent_calls"),
                        ("missing or unreadable attempted_at", "raw_jambonz.recent_calls")]
    assert query(warehouse, "select count(*) from raw_jambonz.recent_calls") == [
        (len(jz.all_calls()),)]
    assert query(warehouse, "select count(*) from calls") == [(len(jz.all_calls()) - 2,)]


def test_rate_limited_request_waits_out_retry_after(sim: Simulator) -> None:
    jz = jambonz(sim)
    ticks, slept = [5000.0], []
    jz.timer, jz.rate_limit = (lambda: ticks[0]), 1

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        ticks[0] += seconds

    base = f"{sim.url}/v1"
    http = Http("jambonz", base, auth=HostBoundAuth(
        {"authorization": f"Bearer {jz.api_key}"}, base), sleep=sleep,
        policy=RetryPolicy(max_seconds=600))
    client = JambonzClient(http, jz.account_sid)
    assert len(client.live_calls()) == 10
    assert len(client.live_calls()) == 10  # the second waits for the next window
    assert slept == [300.0]
    assert len(sim.requests_for("jambonz", LIVE)) == 3  # ok, 429, ok
