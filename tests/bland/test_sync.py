"""Bland end to end: simulator over real HTTP -> dlt -> DuckDB -> `calls`."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from pipelines import sync
from pipelines.status import cursors
from pipelines.warehouse import pipelines_dir
from simulator.server import Simulator
from sources._time import parse_timestamp
from tests.conftest import calls_snapshot, configure, query


def bland(sim: Simulator):  # noqa: ANN201 (the simulator's BlandSim)
    return sim.providers["bland"]


def expected_keys(sim: Simulator, since: datetime) -> set[str]:
    return {f"bland:{c['call_id']}" for c in bland(sim).all_calls()
            if parse_timestamp(c["started_at"]) >= since}


def test_first_sync_loads_exactly_the_calls_from_start_date(
    sim: Simulator, warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    start = datetime(2026, 10, 20, tzinfo=UTC)
    configure(monkeypatch, sim, "bland", start_date=start.isoformat())
    result = sync.run(warehouse)
    assert result.ok, [p.error for p in result.providers]
    keys = {row[0] for row in query(warehouse, "select call_key from calls")}
    assert keys == expected_keys(sim, start)
    assert len(keys) > 100
    duplicates = query(warehouse, "select call_key from calls group by 1 having count(*) > 1")
    assert duplicates == []


def test_noop_sync_fetches_one_page_per_number_and_changes_nothing(
    sim: Simulator, warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, sim, "bland")
    assert sync.run(warehouse).ok
    before = calls_snapshot(warehouse)
    sim.clear_log()
    result = sync.run(warehouse)
    assert result.ok
    pages = sim.requests_for("bland", "/v1/sip/calls")
    assert sorted(r.query["phone_number"] for r in pages) == sorted(bland(sim).phone_numbers)
    assert all("before" not in r.query for r in pages)
    assert calls_snapshot(warehouse) == before
    assert (result.providers[0].new, result.providers[0].updated) == (0, 0)


def test_new_and_completed_calls_appear_without_duplicates(
    sim: Simulator, warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, sim, "bland")
    assert sync.run(warehouse).ok
    number = bland(sim).phone_numbers[1]
    ringing = bland(sim).logs[number][0]["call_id"]
    assert query(warehouse, "select status from calls where call_id = ?", [ringing]) == [
        ("in_progress",)]
    bland(sim).complete_call(ringing, duration=61)
    added = bland(sim).add_calls(3, phone_number=number)

    result = sync.run(warehouse)

    assert result.ok
    assert (result.providers[0].new, result.providers[0].updated) == (3, 1)
    row = query(warehouse, "select status, answered, duration_seconds from calls "
                "where call_id = ?", [ringing])
    assert row == [("completed", True, 61)]
    for call in added:
        assert query(warehouse, "select count(*) from calls where call_id = ?",
                     [call["call_id"]]) == [(1,)]
    assert query(warehouse, "select count(*) - count(distinct call_key) from calls") == [(0,)]


def test_call_in_two_logs_keeps_one_row_with_the_smaller_number(
    sim: Simulator, warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, sim, "bland")
    assert sync.run(warehouse).ok
    a, b = bland(sim).phone_numbers[:2]
    shared = {c["call_id"] for c in bland(sim).logs[a]} & {c["call_id"] for c in bland(sim).logs[b]}
    assert len(shared) == 1
    rows = query(warehouse, "select account_id, direction from calls where call_id = ?",
                 [shared.pop()])
    assert rows == [(min(a, b), "outbound")]  # as seen from the smaller number's log


def test_backfill_reloads_a_window_without_moving_the_cursor(
    sim: Simulator, warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, sim, "bland")
    assert sync.run(warehouse).ok
    before = calls_snapshot(warehouse)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        cursor_before = cursors(con, "bland")
    start = datetime(2026, 10, 25, tzinfo=UTC)
    result = sync.run(warehouse, start=start, end=start + timedelta(days=2))
    assert result.ok
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert cursors(con, "bland") == cursor_before
    assert calls_snapshot(warehouse) == before
    assert result.providers[0].records > 0

    sim.clear_log()  # --start alone: from there up to now, still without moving the cursor
    result = sync.run(warehouse, start=start)
    assert result.ok
    window = [c for c in bland(sim).all_calls() if parse_timestamp(c["started_at"]) >= start]
    assert result.providers[0].records >= len(window) > 50
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert cursors(con, "bland") == cursor_before
    assert calls_snapshot(warehouse) == before


def test_lost_working_folder_resumes_from_the_warehouse(
    sim: Simulator, warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, sim, "bland")
    assert sync.run(warehouse).ok
    shutil.rmtree(pipelines_dir(warehouse))
    sim.clear_log()
    assert sync.run(warehouse).ok
    assert len(sim.requests_for("bland", "/v1/sip/calls")) == len(bland(sim).phone_numbers)


def test_sip_configs_one_row_per_configured_direction_without_credentials(
    sim: Simulator, warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, sim, "bland")
    assert sync.run(warehouse).ok
    rows = query(warehouse, "select phone_number, direction, transport, port, auth_mode, "
                 "secure_media from sip_configs order by 1, 2")
    n1, n2, n3 = bland(sim).phone_numbers
    assert rows == [
        (n1, "inbound", None, None, "ip", None), (n1, "outbound", "tls", 5061, None, True),
        (n2, "inbound", None, None, "ip", None), (n2, "outbound", "tls", 5061, None, True),
        (n3, "inbound", None, None, "ip", None),
    ]
    dump = str(query(warehouse, "select * from raw_bland.sip_configs"))
    for secret in ("sim-sip-password", "c2lwLXVzZXI6c2lwLXBhc3M=", "Basic"):
        assert secret not in dump
    assert "X-Trunk" in dump  # harmless headers stay


def test_401_fails_the_provider_with_one_line_and_no_secret(
    sim: Simulator, warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, sim, "bland", api_key="wrong-key-123456")
    result = sync.run(warehouse)
    assert not result.ok
    error = result.providers[0].error or ""
    assert "HTTP 401" in error and "check the configured key" in error
    assert "\n" not in error
    assert "wrong-key-123456" not in error
    served = [(r.path, tuple(sorted(r.query.items()))) for r in sim.requests_for("bland")]
    assert len(served) == len(set(served)) <= 4  # a 401 is not retried (numbers run at once)
