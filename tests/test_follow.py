"""Calls over their life (contract section 7): a call left unfinished by a sync is fetched
again on later syncs until it ends or `max_follow_seconds` pass, and a window that came
back short of the API's own count is reported. Real simulator over HTTP, real DuckDB."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dlt
import duckdb
import pyarrow as pa
import pytest

from pipelines import sync
from pipelines.status import cursors
from simulator.bland import RINGING
from simulator.server import Simulator
from sources._follow import Reread, Unfinished
from sources._native import TIMESTAMP
from sources._time import parse_timestamp
from tests.cli.helpers import callsync_here
from tests.conftest import configure, query


@dataclass(frozen=True)
class Case:
    """How one provider's simulator makes, ends and re-serves unfinished calls."""

    slug: str
    # two unfinished calls (A will end, B never does), as their call_ids
    unfinished: Callable[[Any], tuple[str, str]]
    newer: Callable[[Any], None]  # an ended call newer than every other arrives
    complete: Callable[[Any, str], None]  # call A ends after 61 s
    # requests that fetched call B again (besides the sync window's own walk)
    follow_requests: Callable[[Simulator, Any, str], int]


def _bland_unfinished(p: Any) -> tuple[str, str]:
    first, second = (p.logs[n][0] for n in p.phone_numbers[:2])  # the newest ring
    assert first["sip_code"] == second["sip_code"] == RINGING[0]
    return first["call_id"], second["call_id"]


def _bland_follows(sim: Simulator, p: Any, call_id: str) -> int:
    number = next(n for n in p.phone_numbers if any(c["call_id"] == call_id
                                                    for c in p.logs[n]))
    pages = [r for r in sim.requests_for("bland", "/v1/sip/calls")
             if r.query.get("phone_number") == number]
    return len(pages) - 1  # the window's walk reads one page (it reaches back past it)


def _sipsim_unfinished(p: Any) -> tuple[str, str]:
    (live,) = [c for c in p.calls if c.get("end_time") is None]
    return str(live["id"]), str(p.add_live_call()["id"])


def _unpod_unfinished(p: Any) -> tuple[str, str]:
    assert p.log[0]["call_status"] == "in-progress"
    first = p.key_of(p.log[0])
    return first, p.key_of(p.add_calls(1, ("in-progress", None))[0])


def _jambonz_unfinished(p: Any) -> tuple[str, str]:
    # a CDR whose final status is still provisional (180): rewritten once the call ends
    a, b = p.add_calls(2, (False, 180, "ringing", "outbound"))
    return a["call_sid"], b["call_sid"]


def _jambonz_complete(p: Any, call_sid: str) -> None:
    (cdr,) = [c for c in p.all_calls() if c["call_sid"] == call_sid]
    attempted = parse_timestamp(cdr["attempted_at"])
    assert attempted is not None
    answered = attempted + timedelta(seconds=4)
    p.update_call(call_sid, answered=True, sip_status=200, duration=61,
                  termination_reason="caller hungup", _answered=answered,
                  _terminated=answered + timedelta(seconds=61))


def _recent_call_walks(sim: Simulator, p: Any, call_id: str) -> int:
    return len(sim.requests_for("jambonz", "/RecentCalls")) - 1


CASES = [
    Case("bland", _bland_unfinished, lambda p: p.add_calls(1),
         lambda p, i: p.complete_call(i, 61), _bland_follows),
    Case("sipsim", _sipsim_unfinished, lambda p: p.add_calls(1),
         lambda p, i: p.complete_call(i, 61),
         lambda sim, p, i: len(sim.requests_for("sipsim", f"/api/v2/calls/{i}"))),
    Case("unpod", _unpod_unfinished, lambda p: p.add_calls(1),
         lambda p, i: p.complete_call(i, 61),
         lambda sim, p, i: len([r for r in sim.requests_for("unpod", "/call-logs/")
                                if "end_date" in r.query])),
    Case("jambonz", _jambonz_unfinished, lambda p: p.add_calls(1), _jambonz_complete,
         _recent_call_walks),
]


def unfinished(warehouse: Path) -> dict[str, tuple[str, datetime]]:
    rows = query(warehouse, "select call_key, status, following_since from calls_unfinished")
    return {key: (status, since) for key, status, since in rows}


def cursor(warehouse: Path, slug: str) -> dict[str, Any]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return cursors(con, slug)


def started(case: Case, sim: Simulator, warehouse: Path, monkeypatch: pytest.MonkeyPatch
            ) -> tuple[Any, str, str, Callable[[], None]]:
    """The case's simulator configured, its two unfinished calls A and B made, and a sync
    of it alone at the simulator's clock (the request log cleared first)."""
    p = sim.providers[case.slug]
    configure(monkeypatch, sim, case.slug)
    a, b = case.unfinished(p)

    def run() -> None:
        sim.clear_log()
        result = sync.run(warehouse, [case.slug],
                          overrides={case.slug: {"clock": lambda: p.now}})
        assert result.ok, [o.error for o in result.providers]

    return p, a, b, run


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.slug)
def test_an_unfinished_call_is_followed_to_its_end_and_one_that_never_ends_until_the_limit(
    case: Case, sim: Simulator, warehouse: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    p, a, b, run = started(case, sim, warehouse, monkeypatch)
    key_a, key_b = f"{case.slug}:{a}", f"{case.slug}:{b}"

    run()
    listed = unfinished(warehouse)
    assert {key_a, key_b} <= set(listed)
    first_seen = listed[key_b][1]
    assert first_seen is not None

    # three hours on, a newer call moves the cursor (this sync's walk still starts an
    # hour before B); then A and B lie outside the lookback (3600 s), so only following
    # fetches them again
    p.now += timedelta(hours=3)
    case.newer(p)
    run()
    window = cursor(warehouse, case.slug)

    case.complete(p, a)
    run()
    assert case.follow_requests(sim, p, b) >= 1
    assert query(warehouse, "select status, duration_seconds from calls where call_key = ?",
                 [key_a]) == [("completed", 61)]
    listed = unfinished(warehouse)
    assert key_a not in listed and listed[key_b][1] == first_seen
    assert cursor(warehouse, case.slug) == window  # follow-ups never move the cursor

    # a day after B started it is no longer fetched, and it stays listed
    p.now += timedelta(days=1)
    case.newer(p)
    run()
    assert case.follow_requests(sim, p, b) == 0
    listed = unfinished(warehouse)
    assert key_b in listed
    shown = callsync_here("status", capsys=capsys)
    assert shown.code == 0
    assert f"unfinished calls (calls_unfinished) {len(listed)}" in shown.out


@pytest.mark.parametrize("case", [c for c in CASES if c.slug != "bland"], ids=lambda c: c.slug)
def test_a_followed_call_the_sync_walk_loads_again_is_not_fetched_a_second_time(
    case: Case, sim: Simulator, warehouse: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    p, a, b, run = started(case, sim, warehouse, monkeypatch)
    key_a, key_b = f"{case.slug}:{a}", f"{case.slug}:{b}"

    run()
    assert {key_a, key_b} <= set(unfinished(warehouse))

    # minutes later both started inside the lookback: the sync's own walk reads them
    # again, and nothing else does
    p.now += timedelta(minutes=2)
    case.complete(p, a)
    run()
    assert case.follow_requests(sim, p, a) == 0
    assert case.follow_requests(sim, p, b) == 0
    assert query(warehouse, "select status, duration_seconds from calls where call_key = ?",
                 [key_a]) == [("completed", 61)]
    listed = unfinished(warehouse)
    assert key_a not in listed and key_b in listed


def test_a_backfill_fetches_no_unfinished_call_again(
    sim: Simulator, warehouse: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    p = sim.providers["sipsim"]
    configure(monkeypatch, sim, "sipsim")
    a, _ = _sipsim_unfinished(p)
    clock = {"sipsim": {"clock": lambda: p.now}}
    assert sync.run(warehouse, ["sipsim"], overrides=clock).ok
    before = cursor(warehouse, "sipsim")
    sim.clear_log()

    start = p.now - timedelta(days=2)
    assert sync.run(warehouse, ["sipsim"], start=start, end=start + timedelta(days=1),
                    overrides=clock).ok

    assert sim.requests_for("sipsim", f"/api/v2/calls/{a}") == []
    assert cursor(warehouse, "sipsim") == before
    assert f"sipsim:{a}" in unfinished(warehouse)


def test_a_sipsim_call_not_served_by_id_is_a_warning_and_stays_followed(
    sim: Simulator, warehouse: Path, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    p = sim.providers["sipsim"]
    configure(monkeypatch, sim, "sipsim")
    a, _ = _sipsim_unfinished(p)
    clock = {"sipsim": {"clock": lambda: p.now}}
    assert sync.run(warehouse, ["sipsim"], overrides=clock).ok
    p.calls.remove(p.find(a))  # the API no longer serves it: GET calls/{id} is a 404

    for _ in range(2):  # asked for again on every sync, not dropped after one 404
        sim.clear_log()
        caplog.clear()
        with caplog.at_level("WARNING", logger="callsync"):
            assert sync.run(warehouse, ["sipsim"], overrides=clock).ok
        by_id = [r for r in sim.requests_for("sipsim") if r.path.endswith(f"/calls/{a}")]
        assert len(by_id) == 1
        assert f"call {a} is not served by id (404)" in caplog.text
        assert f"sipsim:{a}" in unfinished(warehouse)


@pytest.mark.parametrize("slug, page_size", [("unpod", 20), ("jambonz", 50)])
@pytest.mark.parametrize("lost", [{2}, set()], ids=["page-2-lost", "nothing-lost"])
def test_a_window_short_of_the_api_count_is_a_warning_not_a_failure(
    slug: str, page_size: int, lost: set[int], sim: Simulator, warehouse: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    p = sim.providers[slug]
    p.lost_pages = lost  # served empty, still counted: the walk ends there
    configure(monkeypatch, sim, slug, page_size=page_size)

    done = callsync_here("sync", "--source", slug, capsys=capsys)

    assert done.code == 0, done.err
    short = re.search(rf"warning: {slug}: received (\d+) of the (\d+) calls", done.err)
    shown = callsync_here("status", capsys=capsys)  # status repeats the last run's shortfall
    again = re.search(rf"warning: last run: {slug}: received (\d+) of the (\d+)", shown.err)
    if lost:
        assert short is not None, done.err
        assert (int(short[1]), int(short[2])) == (page_size, p.count())
        assert again is not None and again.groups() == short.groups(), shown.err
    else:
        assert short is None, done.err
        assert again is None, shown.err


@pytest.mark.parametrize("slug", ["unpod", "jambonz", "sipsim"])
def test_received_counts_the_window_and_api_count_what_the_api_said(
    slug: str, sim: Simulator, warehouse: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    p = sim.providers[slug]
    configure(monkeypatch, sim, slug)
    clock = {slug: {"clock": lambda: p.now}}
    (first,) = sync.run(warehouse, [slug], overrides=clock).providers
    assert first.received == p.count()
    assert first.api_count == (None if slug == "sipsim" else p.count())

    for _ in range(2):  # the first moves the cursor 3 h on: the walk leaves the live call
        p.now += timedelta(hours=3)
        p.add_calls(2)  # the unfinished call is fetched again as well: not received
        sim.clear_log()
        (second,) = sync.run(warehouse, [slug], overrides=clock).providers

    if slug == "sipsim":  # no count in the API: received is the window's list, not by id
        (listed,) = [r for r in sim.requests_for(slug) if r.path == "/api/v2/calls"]
        since = parse_timestamp(listed.query["start_time"])
        assert since is not None
        assert len(sim.requests_for(slug, "/api/v2/calls/")) == 1
        assert second.received == len([c for c in p.calls if c["_ts"] >= since])
        assert second.api_count is None
    else:
        assert second.api_count == second.received >= 2  # the two new calls at least


@pytest.mark.parametrize("slug", ["bland", "sipsim", "unpod", "jambonz"])
def test_a_malformed_max_follow_seconds_fails_before_any_request(
    slug: str, sim: Simulator, warehouse: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure(monkeypatch, sim, slug, max_follow_seconds="a day")

    done = callsync_here("sync", "--source", slug, capsys=capsys)

    assert done.code == 2  # the only provider asked for is refused: a configuration error
    assert [line for line in done.err.splitlines() if line.strip()] == [
        f"error: {slug}: sources.{slug}.max_follow_seconds (env SOURCES__{slug.upper()}__"
        "MAX_FOLLOW_SECONDS): 'a day' is not a whole number of seconds >= 0"]
    assert sim.requests == []


def _walk_table(rows: list[tuple[str | None, datetime | None]]) -> pa.Table:
    return pa.table({"call_id": pa.array([r[0] for r in rows], pa.string()),
                     "started_at": pa.array([r[1] for r in rows], TIMESTAMP)})


def test_reread_counts_the_followed_calls_the_walk_keeps_and_only_after_it_finished(
    tmp_path: Path,
) -> None:
    t0 = datetime(2026, 12, 1, tzinfo=UTC)
    calls = [Unfinished(i, None, t0) for i in ("in", "early", "late", "undated", "absent")]
    reread = Reread(calls)
    pages = [_walk_table([("in", t0), ("early", t0 - timedelta(seconds=1)), ("other", t0)]),
             _walk_table([]),
             _walk_table([("late", t0 + timedelta(hours=1)), ("undated", None)])]
    seen_while_walking: list[bool] = []

    @dlt.resource(name="calls")
    def walk() -> Iterator[pa.Table]:
        yield from reread.watch(pages, t0, t0 + timedelta(hours=1))

    @dlt.resource(name="followed", table_name="calls")
    def follow() -> Iterator[pa.Table | None]:
        for nothing in reread.wait():  # None to dlt, which reads the walk meanwhile
            seen_while_walking.append(reread.loaded("in"))
            yield nothing
        yield _walk_table([(c.call_id, c.started_at) for c in calls
                           if not reread.loaded(c.call_id)])

    @dlt.source(name="reread")
    def source() -> list[Any]:
        return [walk(), follow()]

    pipeline = dlt.pipeline("reread", destination="duckdb", dataset_name="raw",
                            pipelines_dir=str(tmp_path / "dlt"))
    pipeline.extract(source())
    assert seen_while_walking and not any(seen_while_walking)  # nothing counts mid-walk
    # kept by dlt's incremental: from `since`, before `until`, or without a start
    assert [c.call_id for c in calls if reread.loaded(c.call_id)] == ["in", "undated"]


def test_reread_skips_nothing_when_the_walk_did_not_run_or_did_not_finish() -> None:
    t0 = datetime(2026, 12, 1, tzinfo=UTC)
    never = Reread([Unfinished("a", None, t0)])
    assert list(never.wait()) == [] and not never.loaded("a")

    cut = Reread([Unfinished("a", None, t0)])
    walk = cut.watch([_walk_table([("a", t0)]), _walk_table([("b", t0)])], t0)
    next(walk)
    walk.close()  # the walk ended early (an error elsewhere, a limit): it is not trusted
    assert list(cut.wait()) == [] and not cut.loaded("a")
