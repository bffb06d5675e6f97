"""`callsync status --json` and `--max-age`: freshness for a monitor in one command."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from simulator.server import Simulator
from tests.cli.helpers import callsync, callsync_here
from tests.conftest import configure, query

FIELDS = {"configured", "last_success_at", "last_run_at", "last_run_status", "last_error",
          "cursor", "newest_call_at", "calls", "rejected",
          # added beside the contract's: calls followed, the last run's completeness
          "unfinished", "last_api_count", "last_received"}


def when(text: str | None) -> datetime | None:
    if text is None:
        return None
    parsed = datetime.fromisoformat(text)
    assert parsed.utcoffset() == timedelta(0), text  # UTC
    return parsed


def age_runs(warehouse: Path, provider: str, seconds: int) -> None:
    """Move a provider's run history `seconds` into the past (as if it ran that long ago)."""
    with duckdb.connect(str(warehouse)) as con:
        con.execute("update sync_runs set started_at = started_at - to_seconds(?), "
                    "finished_at = finished_at - to_seconds(?) where provider = ?",
                    [seconds, seconds, provider])


def test_json_is_one_object_with_the_contracts_fields(
    sim: Simulator, warehouse: Path, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, sim, "unpod")
    configure(monkeypatch, sim, "sipsim", client_id=None, client_secret=None)
    configure(monkeypatch, sim, "bland", api_key="revoked-key-0000")
    assert callsync("sync", "--source", "unpod", "--source", "bland", cwd=isolated).code == 1

    run = callsync("status", "--json", cwd=isolated)

    assert run.code == 0, run.err
    found = json.loads(run.out)  # the whole of stdout: one object
    assert set(found) == {"warehouse", "providers"}
    assert found["warehouse"] == str(warehouse) and Path(found["warehouse"]).is_absolute()
    providers = found["providers"]
    assert set(providers) == {"bland", "sipsim", "unpod", "jambonz"}
    assert all(set(p) == FIELDS for p in providers.values())
    unpod, bland = providers["unpod"], providers["bland"]
    ((finished, calls, newest, rejected),) = query(
        warehouse, "select (select max(finished_at) from sync_runs where provider = 'unpod'), "
                   "count(*), max(started_at), (select count(*) from calls_rejected "
                   "where provider = 'unpod') from calls where provider = 'unpod'")
    assert unpod["configured"] is True and unpod["last_run_status"] == "ok"
    assert when(unpod["last_success_at"]) == when(unpod["last_run_at"]) == finished
    assert unpod["last_error"] is None
    assert when(unpod["newest_call_at"]) == newest == when(unpod["cursor"])
    assert (unpod["calls"], unpod["rejected"]) == (calls, rejected)
    assert bland["configured"] is True and bland["last_run_status"] == "failed"
    assert bland["last_success_at"] is None and "401" in bland["last_error"]
    assert bland["calls"] == 0 and bland["newest_call_at"] is None
    assert providers["sipsim"]["configured"] is False  # not configured: never stale
    assert providers["jambonz"] == {**dict.fromkeys(FIELDS), "configured": False,
                                    "calls": 0, "rejected": 0, "unfinished": 0}


def test_max_age_exits_3_when_a_configured_provider_is_stale(
    sim: Simulator, warehouse: Path, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, sim, "unpod")
    configure(monkeypatch, sim, "jambonz")
    assert callsync("sync", cwd=isolated).code == 0
    fresh = callsync("status", "--json", "--max-age", "3600", cwd=isolated)
    assert fresh.code == 0, fresh.err
    assert json.loads(fresh.out)["providers"]["unpod"]["last_run_status"] == "ok"

    age_runs(warehouse, "jambonz", 7200)  # jambonz's last sync was two hours ago
    stale = callsync("status", "--json", "--max-age", "3600", cwd=isolated)
    assert stale.code == 3
    assert json.loads(stale.out)["providers"]["jambonz"]["configured"]  # printed first
    assert "jambonz" in stale.err and "unpod" not in stale.err
    assert callsync("status", "--max-age", "10800", cwd=isolated).code == 0  # 3 h: fresh

    configure(monkeypatch, sim, "bland")  # configured, never synced: stale
    human = callsync("status", "--max-age", "10800", cwd=isolated)
    assert human.code == 3 and "bland: last successful sync never" in human.out


def test_a_missing_warehouse_is_stale(
    sim: Simulator, warehouse: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure(monkeypatch, sim, "unpod")
    run = callsync_here("status", "--json", "--max-age", "60", capsys=capsys)
    assert run.code == 3
    assert json.loads(run.out)["providers"]["unpod"] == {
        **dict.fromkeys(FIELDS), "configured": True, "calls": 0, "rejected": 0,
        "unfinished": 0}
    assert not warehouse.exists()
    assert callsync_here("status", "--json", capsys=capsys).code == 0


@pytest.mark.parametrize("value", ["soon", "0", "-5", "1.5", ""],
                         ids=["word", "zero", "negative", "fraction", "empty"])
def test_max_age_must_be_a_positive_whole_number(
    warehouse: Path, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        callsync_here("status", "--max-age", value, capsys=capsys)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "--max-age" in err and "positive whole number" in err and "Traceback" not in err


def test_human_status_shows_the_last_runs_outcome(
    sim: Simulator, warehouse: Path, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, sim, "unpod")
    assert callsync("sync", cwd=isolated).code == 0
    sim.fail_next(400, "unpod", body={"status_code": 400, "message": "org suspended"})
    assert callsync("sync", cwd=isolated).code == 1
    run = callsync("status", cwd=isolated)
    assert run.code == 0, run.err
    assert "unpod: last successful sync 20" in run.out
    (line,) = [x for x in run.out.splitlines() if "last run" in x]
    assert "last run failed at 20" in line and "org suspended" in line


def test_status_while_a_sync_writes_reads_the_readers_copy(
    sim: Simulator, warehouse: Path, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, sim, "unpod")
    assert callsync("sync", cwd=isolated).code == 0
    with duckdb.connect(str(warehouse)):  # a writer holds the file, as a running sync does
        run = callsync("status", "--json", "--max-age", "3600", cwd=isolated)
        assert run.code == 0, run.err
        unpod = json.loads(run.out)["providers"]["unpod"]
        assert unpod["last_run_status"] == "ok" and unpod["calls"] > 0
        assert unpod["cursor"] is None  # dlt's state is not in the copy
        assert "readers' copy" in run.err
        (warehouse.parent / "published" / warehouse.name).unlink()
        busy = callsync("status", cwd=isolated)
    assert busy.code == 2 and len(busy.err.strip().splitlines()) == 1
    assert "another process is writing" in busy.err and "Traceback" not in busy.err
