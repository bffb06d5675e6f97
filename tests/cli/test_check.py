"""`callsync check`: the rules over a synced warehouse, their table and exit codes."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from pipelines import checks
from simulator.server import Simulator
from tests.cli.helpers import callsync, callsync_here
from tests.conftest import configure, query


def lines_of(out: str, rule: str) -> dict[str, list[str]]:
    """The printed rows of `rule`, by provider: [severity, failing, total, samples...]."""
    return {parts[1]: parts[2:] for parts in (line.split() for line in out.splitlines())
            if parts and parts[0] == rule}


def test_sync_writes_call_checks_and_check_exits_by_severity(
    sim: Simulator, warehouse: Path, isolated: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for slug in sim.providers:
        configure(monkeypatch, sim, slug)
    assert callsync("sync", cwd=isolated).code == 0
    names = {rule.name for rule in checks.rules()}
    written = query(warehouse, "select rule, provider, severity, failing_rows, total_rows "
                    "from call_checks")
    assert {(r[0], r[1]) for r in written} == {(n, p) for n in names for p in sim.providers}
    totals = dict(query(warehouse, "select provider, count(*) from calls group by 1"))
    assert all(r[4] == totals[r[1]] for r in written)
    # faithful simulator data breaks no error rule; the one warning is SIPSIM's live call,
    # reported as answered (completed) with no end time yet
    assert [(r[0], r[1], r[3]) for r in written if r[3]] == [
        ("completed_has_ended", "sipsim", 1)]

    run = callsync("check", cwd=isolated)
    assert run.code == 0, run.err
    assert run.out.split()[:5] == ["rule", "provider", "severity", "failing", "total"]
    assert lines_of(run.out, "completed_has_ended")["sipsim"][:3] == [
        "warn", "1", str(totals["sipsim"])]
    assert f"1 of {len(written)} checks failing (0 error, 1 warn)" in run.out
    assert run.err == ""
    assert callsync_here("check", "--fail-on", "error", capsys=capsys).code == 0
    warned = callsync_here("check", "--fail-on", "warn", capsys=capsys)
    assert warned.code == 1
    assert warned.err.splitlines() == ["failed: 1 error or warn checks fail (--fail-on warn)"]

    # a call that ends before it starts breaks an error rule
    with duckdb.connect(str(warehouse)) as con:
        key = con.execute("update calls set ended_at = started_at - interval 1 second "
                          "where call_key = (select min(call_key) from calls "
                          "where provider = 'jambonz') returning call_key").fetchone()[0]
    failed = callsync("check", "--fail-on", "error", cwd=isolated)
    assert failed.code == 1
    assert lines_of(failed.out, "ended_after_started")["jambonz"] == [
        "error", "1", str(totals["jambonz"]), key]
    assert failed.err.splitlines() == ["failed: 1 error checks fail (--fail-on error)"]
    assert query(warehouse, "select sample_keys from call_checks where rule = "
                 "'ended_after_started' and provider = 'jambonz'") == [([key],)]
    assert callsync_here("check", capsys=capsys).code == 0  # reports, never fails alone


def test_check_without_a_warehouse_says_to_sync_first(warehouse: Path, isolated: Path) -> None:
    run = callsync("check", "--fail-on", "error", cwd=isolated)
    assert run.code == 2
    assert run.err.splitlines() == [
        f"error: no warehouse at {warehouse}: run `callsync sync` to create it, or point at "
        "another file with --warehouse PATH"]
    assert not warehouse.parent.exists()  # no file, no lock, no folder


def test_check_on_a_warehouse_without_calls_says_to_sync_first(
    warehouse: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    warehouse.parent.mkdir()
    duckdb.connect(str(warehouse)).close()
    run = callsync_here("check", capsys=capsys)
    assert run.code == 2
    assert run.err.splitlines() == [
        f"error: {warehouse} has no calls table yet: run `callsync sync` first"]
