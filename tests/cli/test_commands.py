"""`callsync sync`, `status`, `transform` and `demo` as a user runs them."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.server import Simulator
from tests.cli.helpers import callsync
from tests.conftest import configure, query


def test_sync_prints_a_summary_then_status_and_transform_agree(
    sim: Simulator, warehouse: Path, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, sim, "bland")
    run = callsync("sync", cwd=isolated)
    assert run.code == 0, run.err
    header, line = run.out.splitlines()[:2]
    assert header.split()[:6] == ["provider", "pages", "records", "others", "new", "updated"]
    calls = query(warehouse, "select count(*) from calls")[0][0]
    assert line.split()[0] == "bland" and int(line.split()[4]) == calls

    status = callsync("status", cwd=isolated)
    assert status.code == 0, status.err
    assert "bland: last successful sync 20" in status.out
    assert f"{calls} calls, 0 rejected" in status.out
    assert "cursor sip_calls_14150000001" in status.out

    before = query(warehouse, "select * exclude (synced_at) from calls order by call_key")
    rebuilt = callsync("transform", cwd=isolated)
    assert rebuilt.code == 0, rebuilt.err
    assert rebuilt.out.splitlines()[0].startswith("rebuilding the models")  # before the wait
    assert query(warehouse, "select * exclude (synced_at) from calls order by call_key") == before


def test_demo_needs_no_configuration(isolated: Path) -> None:
    run = callsync("demo", "--size", "60", cwd=isolated)
    assert run.code == 0, run.err
    assert "bland" in run.out
    demo = isolated / "data" / "demo.duckdb"
    statuses = dict(query(demo, "select status, count(*) from calls group by 1"))
    assert sum(statuses.values()) > 100 and "completed" in statuses


def test_one_provider_failing_does_not_stop_the_others(
    sim: Simulator, warehouse: Path, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for slug in sim.providers:
        configure(monkeypatch, sim, slug)
    configure(monkeypatch, sim, "bland", api_key="revoked-key-0000")
    run = callsync("sync", cwd=isolated)
    assert run.code == 1
    failed = [line for line in run.err.splitlines() if line.startswith("failed:")]
    assert len(failed) == 1 and failed[0].startswith("failed: bland:") and "401" in failed[0]
    loaded = dict(query(warehouse, "select provider, count(*) from calls group by 1"))
    assert set(loaded) == {"sipsim", "unpod", "jambonz"} and min(loaded.values()) > 100
