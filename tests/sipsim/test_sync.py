"""SIPSIM end to end: simulator over real HTTP -> dlt -> DuckDB -> `calls`."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dlt.common.versioned_state import decompress_state

from pipelines import sync
from pipelines.status import cursors
from pipelines.warehouse import pipelines_dir
from simulator.server import Simulator
from simulator.sipsim import SipsimSim
from sources._time import iso_z, parse_timestamp
from sources.sipsim import settings
from tests.conftest import calls_snapshot, configure, query

CALLS, TOKEN = "/api/v2/calls", "/oauth/token"


def sipsim(sim: Simulator) -> SipsimSim:
    return sim.providers["sipsim"]  # type: ignore[no-any-return]


def started(call: dict[str, Any]) -> datetime | None:
    """The contract's started_at of a served record, read here independently of the source."""
    return parse_timestamp(call.get("start_time")) or parse_timestamp(
        call.get("registration_time"))


def expected_keys(sim: Simulator, since: datetime) -> set[str]:
    return {f"sipsim:{c['id']}" for c in sipsim(sim).all_calls()
            if (moment := started(c)) is not None and moment >= since}


def cursor(warehouse: Path) -> dict[str, Any]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return cursors(con, "sipsim")


def use_access_token(monkeypatch: pytest.MonkeyPatch, sim: Simulator, **extra: Any) -> None:
    configure(monkeypatch, sim, "sipsim", client_id=None, client_secret=None,
              access_token=sipsim(sim).access_token, **extra)


def test_first_sync_loads_exactly_the_calls_from_start_date(
    sim: Simulator, warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    start = datetime(2026, 10, 20, tzinfo=UTC)
    # registered 4 s before start_date but started after it: the server filters on
    # registration_time, so only the slack below the cursor brings this one in
    sipsim(sim).put_raw({"id": 9_000_001, "call_type": "inbound", "sip_status": "answer",
                         "registration_time": "2026-10-19T23:59:56Z",
                         "start_time": "2026-10-20T00:00:01Z"},
                        at=start - timedelta(seconds=4))
    # inside the slack but started before start_date: served, and dropped by the cursor
    sipsim(sim).put_raw({"id": 9_000_000, "call_type": "inbound", "sip_status": "answer",
                         "registration_time": "2026-10-19T23:59:50Z",
                         "start_time": "2026-10-19T23:59:59Z"},
                        at=start - timedelta(seconds=10))
    configure(monkeypatch, sim, "sipsim", start_date=start.isoformat())

    result = sync.run(warehouse)

    assert result.ok, [p.error for p in result.providers]
    keys = {row[0] for row in query(warehouse, "select call_key from calls")}
    assert keys == expected_keys(sim, start)
    assert "sipsim:9000001" in keys and "sipsim:9000000" not in keys and len(keys) > 100
    assert query(warehouse, "select count(*) - count(distinct call_key) from calls") == [(0,)]
    (page,) = sim.requests_for("sipsim", CALLS)
    assert page.query == {"start_time": iso_z(start - timedelta(
        seconds=settings.FILTER_SLACK_SECONDS)), "limit": "1000"}
    assert len(sim.requests_for("sipsim", TOKEN)) == 1
    forms = query(warehouse, "select count(*) filter (where call_id like 'call_%'), "
                  "count(*) filter (where call_id not like 'call_%'), "
                  "count(*) filter (where record like '%receiver_number%') from calls c "
                  "join raw_sipsim.calls r using (call_id)")
    assert all(n > 0 for n in forms[0])  # string and integer ids, both record forms


def test_noop_sync_costs_one_token_and_one_page_and_changes_nothing(
    sim: Simulator, warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, sim, "sipsim")
    assert sync.run(warehouse).ok
    before = calls_snapshot(warehouse)
    last = cursor(warehouse)["calls"]
    sim.clear_log()

    result = sync.run(warehouse)

    assert result.ok
    # The minimum: the API has no "anything new?" call, so a sync must list calls once,
    # and one page answers it (the window since cursor - lookback holds < 1000 calls);
    # a fresh process has no token yet, and a list without one is a 401, so one token
    # request comes first.
    assert [r.path for r in sim.requests_for("sipsim")] == [TOKEN, CALLS]
    (page,) = sim.requests_for("sipsim", CALLS)
    lookback = timedelta(seconds=3600 + settings.FILTER_SLACK_SECONDS)
    assert page.query == {"start_time": iso_z(last - lookback), "limit": "1000"}
    assert calls_snapshot(warehouse) == before
    assert (result.providers[0].new, result.providers[0].updated) == (0, 0)
    assert (result.providers[0].pages, result.providers[0].requests) == (1, 2)


def test_live_call_completed_inside_the_lookback_is_updated_and_new_calls_appear(
    sim: Simulator, warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, sim, "sipsim")
    assert sync.run(warehouse).ok
    live = sipsim(sim).all_calls()[-1]["id"]
    assert query(warehouse, "select status, ended_at, duration_seconds, recording_url "
                 "from calls where call_id = ?", [str(live)]) == [("completed", None, 0, None)]
    sipsim(sim).complete_call(live, duration=61)
    added = sipsim(sim).add_calls(3)

    result = sync.run(warehouse)

    assert result.ok
    assert (result.providers[0].new, result.providers[0].updated) == (3, 1)
    ((ended, duration, url),) = query(
        warehouse, "select ended_at, duration_seconds, recording_url from calls "
        "where call_id = ?", [str(live)])
    assert ended is not None and duration == 61 and url.endswith(f"/{live}.mp3")
    for call in added:
        assert query(warehouse, "select count(*) from calls where call_id = ?",
                     [str(call["id"])]) == [(1,)]
    assert query(warehouse, "select count(*) - count(distinct call_key) from calls") == [(0,)]


def test_backfill_reloads_a_window_without_duplicates_or_moving_the_cursor(
    sim: Simulator, warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, sim, "sipsim")
    assert sync.run(warehouse).ok
    before, cursor_before = calls_snapshot(warehouse), cursor(warehouse)
    raw_before = query(warehouse, "select count(*) from raw_sipsim.calls")[0][0]
    start, end = datetime(2026, 10, 25, tzinfo=UTC), datetime(2026, 10, 27, tzinfo=UTC)
    sim.clear_log()

    result = sync.run(warehouse, names=["sipsim"], start=start, end=end)

    assert result.ok
    assert cursor(warehouse) == cursor_before
    assert calls_snapshot(warehouse) == before
    in_window = {k for k in expected_keys(sim, start) if k not in expected_keys(sim, end)}
    raw_after = query(warehouse, "select count(*) from raw_sipsim.calls")[0][0]
    assert raw_after - raw_before == len(in_window) == result.providers[0].records > 0
    (page,) = sim.requests_for("sipsim", CALLS)
    assert page.query == {"start_time": iso_z(start - timedelta(
        seconds=settings.FILTER_SLACK_SECONDS)), "end_time": iso_z(end), "limit": "1000"}
    assert query(warehouse, "select count(*) - count(distinct call_key) from calls") == [(0,)]


def test_the_page_order_does_not_change_what_loads(
    sim: Simulator, warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, sim, "sipsim", page_size=20)
    assert sync.run(warehouse).ok
    newest_first = calls_snapshot(warehouse)
    pages = len(sim.requests_for("sipsim", CALLS))
    sipsim(sim).order = "asc"
    oldest_first_warehouse = warehouse.with_name("asc.duckdb")
    sim.clear_log()

    assert sync.run(oldest_first_warehouse).ok

    assert calls_snapshot(oldest_first_warehouse) == newest_first
    assert len(sim.requests_for("sipsim", CALLS)) == pages == -(-len(newest_first) // 20)
    assert all(r.query["limit"] == "20" for r in sim.requests_for("sipsim", CALLS))


def test_static_token_with_no_lookback_loads_a_new_call_at_the_cursor(
    sim: Simulator, warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_access_token(monkeypatch, sim, lookback=0)
    assert sync.run(warehouse).ok
    last = cursor(warehouse)["calls"]
    # a new call started at the very cursor value, registered 5 s before it
    sipsim(sim).put_raw({"id": "call_tie", "call_type": "outbound", "sip_status": "answer",
                         "registration_time": iso_z(last - timedelta(seconds=5)),
                         "start_time": iso_z(last)}, at=last - timedelta(seconds=5))
    sim.clear_log()

    result = sync.run(warehouse)

    assert result.ok and result.providers[0].new == 1
    assert query(warehouse, "select count(*) from calls where call_id = 'call_tie'") == [(1,)]
    # with a configured token there is no token request: one page is the whole sync
    assert [r.path for r in sim.requests_for("sipsim")] == [CALLS]


def test_unusable_records_are_kept_raw_and_listed_as_rejected(
    sim: Simulator, warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = sipsim(sim).now - timedelta(days=2)
    sipsim(sim).put_raw({"call_type": "inbound", "registration_time": iso_z(at)}, at=at)
    sipsim(sim).put_raw({"id": 9_000_002, "call_type": "inbound", "start_time": "soon"}, at=at)
    configure(monkeypatch, sim, "sipsim")

    result = sync.run(warehouse)

    assert result.ok and result.rejected == {"sipsim": 2}
    rejected = query(warehouse, "select reason, raw_table from calls_rejected "
                     "where provider = 'sipsim' order by 1")
    assert rejected == [("missing call_id", "raw_sipsim.calls"),
                        ("missing or unreadable started_at", "raw_sipsim.calls")]
    assert query(warehouse, "select count(*) from raw_sipsim.calls where call_id is null "
                 "or started_at is null") == [(2,)]
    assert query(warehouse, "select count(*) from calls where call_id = '9000002'") == [(0,)]


def test_no_credential_reaches_the_warehouse_the_state_or_the_logs(
    sim: Simulator, warehouse: Path, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    configure(monkeypatch, sim, "sipsim")
    with caplog.at_level(logging.DEBUG):
        assert sync.run(warehouse).ok
    secrets = [sipsim(sim).client_id, sipsim(sim).client_secret,
               *(t for t in sipsim(sim).tokens if t != sipsim(sim).access_token)]
    assert len(secrets) == 3  # one token was issued
    dumps = [caplog.text]
    for path in pipelines_dir(warehouse).rglob("*"):
        if path.is_file():
            dumps.append(path.read_bytes().decode("utf-8", "replace"))
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for schema, table in con.execute(
                "select table_schema, table_name from information_schema.tables").fetchall():
            dumps.append(str(con.execute(f'select * from "{schema}"."{table}"').fetchall()))
        (state,) = con.execute("select state from raw_sipsim._dlt_pipeline_state").fetchone()
        dumps.append(str(decompress_state(state)))
    for secret in secrets:
        assert not any(secret in dump for dump in dumps), secret


def test_expired_static_token_fails_in_one_line_without_the_token(
    sim: Simulator, warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_access_token(monkeypatch, sim)
    sipsim(sim).expire_tokens()
    result = sync.run(warehouse)
    assert not result.ok
    error = result.providers[0].error or ""
    assert "HTTP 401" in error and "Access token expired" in error and "\n" not in error
    assert sipsim(sim).access_token not in error
    assert len(sim.requests_for("sipsim")) == 1  # a static token can't be renewed


def test_refused_client_credentials_fail_before_any_call_request(
    sim: Simulator, warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, sim, "sipsim", client_secret="wrong-secret-5150")
    result = sync.run(warehouse)
    error = result.providers[0].error or ""
    assert not result.ok and "invalid_client" in error and "CLIENT_SECRET" in error
    assert "wrong-secret-5150" not in error
    assert [r.path for r in sim.requests_for("sipsim")] == [TOKEN]


@pytest.mark.parametrize(("override", "names"), [
    ({"client_id": None, "client_secret": None}, ["SOURCES__SIPSIM__ACCESS_TOKEN",
                                                   "SOURCES__SIPSIM__CLIENT_ID"]),
    ({"client_secret": None}, ["SOURCES__SIPSIM__CLIENT_SECRET"]),
    ({"token_url": "nowhere"}, ["SOURCES__SIPSIM__TOKEN_URL"]),
    ({"base_url": "ftp//nowhere"}, ["SOURCES__SIPSIM__BASE_URL"]),
    ({"start_date": "last tuesday"}, ["SOURCES__SIPSIM__START_DATE"]),
    ({"lookback": "-5"}, ["SOURCES__SIPSIM__LOOKBACK"]),
    ({"page_size": "5000"}, ["SOURCES__SIPSIM__PAGE_SIZE"]),
], ids=["no-secret", "half-client", "bad-token-url", "bad-base-url", "bad-start",
        "bad-lookback", "page-size"])
def test_configuration_errors_fail_before_any_request(
    sim: Simulator, warehouse: Path, monkeypatch: pytest.MonkeyPatch,
    override: dict[str, Any], names: list[str],
) -> None:
    configure(monkeypatch, sim, "sipsim", **override)
    with pytest.raises(sync.Refused) as refused:
        sync.run(warehouse, names=["sipsim"])
    error = str(refused.value)
    assert all(name in error for name in names) and not warehouse.exists(), error
    assert "\n" not in error and sipsim(sim).client_id not in error
    assert sim.requests == []
