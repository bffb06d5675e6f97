"""`sync_runs`: one row per provider per sync, failures included (contract section 5)."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from pipelines import runs, sync, transform
from pipelines.sync import ProviderResult, SyncResult
from simulator.server import Simulator
from tests.cli.helpers import callsync
from tests.conftest import NOW, configure, query

COLUMNS = [
    ("run_id", "VARCHAR"), ("provider", "VARCHAR"), ("started_at", "TIMESTAMP WITH TIME ZONE"),
    ("finished_at", "TIMESTAMP WITH TIME ZONE"), ("status", "VARCHAR"), ("error", "VARCHAR"),
    ("backfill", "BOOLEAN"), ("window_start", "TIMESTAMP WITH TIME ZONE"),
    ("window_end", "TIMESTAMP WITH TIME ZONE"), ("requests", "BIGINT"), ("pages", "BIGINT"),
    ("records", "BIGINT"), ("calls_new", "BIGINT"), ("calls_updated", "BIGINT"),
    ("rejected", "BIGINT"), ("api_count", "BIGINT"), ("received", "BIGINT"),
    ("complete", "BOOLEAN"),
]


def rows(warehouse: Path, where: str = "true") -> list[dict[str, object]]:
    names = [name for name, _ in COLUMNS]
    found = query(warehouse, f"select {', '.join(names)} from sync_runs where {where} "
                             "order by started_at, provider")
    return [dict(zip(names, row, strict=True)) for row in found]


def test_one_row_per_provider_with_this_runs_figures(
    sim: Simulator, warehouse: Path, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, sim, "unpod")
    configure(monkeypatch, sim, "bland", api_key="revoked-key-0000")
    first = callsync("sync", cwd=isolated)
    assert first.code == 1

    runs_ = rows(warehouse)
    assert sorted(r["provider"] for r in runs_) == ["bland", "unpod"]
    assert len({r["run_id"] for r in runs_}) == 1
    by = {r["provider"]: r for r in runs_}
    failed = [line.removeprefix("failed: ") for line in first.err.splitlines()
              if line.startswith("failed:")]
    assert by["bland"]["status"] == "failed" and by["bland"]["error"] == failed[0]
    assert "revoked-key-0000" not in str(by["bland"]["error"])
    unpod = by["unpod"]
    calls = query(warehouse, "select count(*) from calls where provider = 'unpod'")[0][0]
    assert unpod["status"] == "ok" and unpod["error"] is None
    assert unpod["backfill"] is False and unpod["window_end"] is None
    assert unpod["requests"] == len(sim.requests_for("unpod")) > 0
    assert unpod["pages"] == len(sim.requests_for("unpod"))
    assert unpod["records"] == unpod["received"] == calls == unpod["calls_new"]
    assert unpod["calls_updated"] == 0 and unpod["rejected"] == 0
    assert unpod["api_count"] == calls and unpod["complete"] is True  # Unpod's `count`
    assert unpod["started_at"] <= unpod["finished_at"]  # type: ignore[operator]
    start_date = query(warehouse, "select min(started_at) from calls")[0][0]
    assert unpod["window_start"] <= start_date  # type: ignore[operator]

    # the next run: its own id, only what is new since, the window behind the cursor
    sim.clear_log()
    added = sim.providers["unpod"].add_calls(3)
    configure(monkeypatch, sim, "bland")
    assert callsync("sync", cwd=isolated).code == 0
    second = rows(warehouse, f"run_id <> '{unpod['run_id']}'")
    assert {r["provider"]: r["status"] for r in second} == {"bland": "ok", "unpod": "ok"}
    again = next(r for r in second if r["provider"] == "unpod")
    assert again["calls_new"] == len(added) and again["rejected"] == 0
    assert again["requests"] == len(sim.requests_for("unpod"))
    assert again["window_start"] > unpod["window_start"]  # type: ignore[operator]
    assert len(rows(warehouse)) == 4  # appended, never rewritten


def test_backfill_rows_carry_the_window_asked(
    sim: Simulator, warehouse: Path, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, sim, "sipsim")
    start, end = NOW - timedelta(days=5), NOW - timedelta(days=2)
    run = callsync("sync", "--start", start.isoformat(), "--end", end.isoformat(), cwd=isolated)
    assert run.code == 0, run.err
    (row,) = rows(warehouse)
    assert row["backfill"] is True and row["status"] == "ok"
    assert (row["window_start"], row["window_end"]) == (start, end)
    inside = query(warehouse, "select count(*) from calls where started_at >= ? "
                              "and started_at < ?", [start, end])[0][0]
    assert row["calls_new"] == inside > 0


def test_a_provider_refused_for_its_configuration_gets_a_row(
    sim: Simulator, warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, sim, "unpod")
    configure(monkeypatch, sim, "jambonz", account_sid=None)
    result = sync.run(warehouse, ["unpod", "jambonz"])
    by = {r["provider"]: r for r in rows(warehouse)}
    assert by["unpod"]["status"] == "ok"
    refused = by["jambonz"]
    assert refused["status"] == "failed" and "SOURCES__JAMBONZ__ACCOUNT_SID" in str(
        refused["error"])
    assert refused["error"] == next(p.error for p in result.providers if p.slug == "jambonz")
    assert (refused["requests"], refused["pages"], refused["records"]) == (0, 0, 0)
    assert sim.requests_for("jambonz") == []


def test_rejected_counts_only_this_runs_records(
    sim: Simulator, warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bland = sim.providers["bland"]
    number = bland.phone_numbers[0]
    bland.put_raw(number, {"direction": "inbound", "started_at": "2026-10-30T10:00:00Z"},
                  NOW - timedelta(days=2))
    configure(monkeypatch, sim, "bland")
    sync.run(warehouse)
    assert [r["rejected"] for r in rows(warehouse)] == [1]

    bland.put_raw(number, {"call_id": "no-time", "started_at": "half past ten"},
                  NOW + timedelta(minutes=5))  # newer than the cursor: read by the next run
    sync.run(warehouse)
    assert [r["rejected"] for r in rows(warehouse)] == [1, 1]
    assert query(warehouse, "select count(*) from calls_rejected") == [(2,)]
    sync.run(warehouse)  # the new bad record, re-read inside the lookback, is this run's too
    assert [r["rejected"] for r in rows(warehouse)] == [1, 1, 1]


def test_a_failed_build_marks_every_provider_failed(
    sim: Simulator, warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original, broken = transform.TRANSFORMS, tmp_path / "transforms"
    shutil.copytree(original, broken)
    (broken / "marts" / "zz_broken.sql").write_text("select * from no_such_table\n")
    monkeypatch.setattr(transform, "TRANSFORMS", broken)
    configure(monkeypatch, sim, "unpod")
    configure(monkeypatch, sim, "sipsim")

    result = sync.run(warehouse)

    assert result.build_error and all(p.ok for p in result.providers)
    found = rows(warehouse)
    assert {r["provider"]: r["status"] for r in found} == {"unpod": "failed", "sipsim": "failed"}
    assert {r["error"] for r in found} == {result.build_error}
    assert {(r["calls_new"], r["calls_updated"], r["rejected"]) for r in found} == {
        (None, None, None)}  # the build's figures are unknown
    assert all(r["records"] for r in found)  # what was loaded is still counted
    assert "no_such_table" in result.build_error
    monkeypatch.setattr(transform, "TRANSFORMS", original)  # fixed: the next sync is ok
    assert sync.run(warehouse).ok
    assert [r["status"] for r in rows(warehouse)][-2:] == ["ok", "ok"]


@pytest.mark.parametrize(("api_count", "received", "records", "stored"), [
    (None, None, 40, (None, 40, None)),
    (40, 40, 40, (40, 40, True)),
    (50, 40, 40, (50, 40, False)),
    (40, 38, 45, (40, 38, False)),
], ids=["no-count", "complete", "short", "received-not-records"])
def test_completeness_columns(
    tmp_path: Path, api_count: int | None, received: int | None, records: int,
    stored: tuple[object, ...],
) -> None:
    when = datetime(2026, 11, 1, tzinfo=UTC)
    outcome = ProviderResult("unpod", ok=True, records=records, api_count=api_count,
                             received=received, started_at=when, finished_at=when)
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        runs.record(con, SyncResult(providers=[outcome]))
        assert con.execute("select api_count, received, complete from sync_runs"
                           ).fetchall() == [stored]


def test_table_has_the_contracts_columns_and_comments(
    sim: Simulator, warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, sim, "unpod")
    sync.run(warehouse)
    columns = query(warehouse, "select column_name, data_type, comment from duckdb_columns() "
                               "where table_name = 'sync_runs' order by column_index")
    assert [(name, kind) for name, kind, _ in columns] == COLUMNS
    assert all(comment for _, _, comment in columns)
    assert query(warehouse, "select comment is not null from duckdb_tables() "
                            "where table_name = 'sync_runs'") == [(True,)]


def test_a_secret_in_an_error_is_masked_before_it_is_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCES__UNPOD__API_TOKEN", "tok-planted-55aa77")
    outcome = ProviderResult("unpod", error="unpod: HTTP 400: bad token tok-planted-55aa77")
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        runs.record(con, SyncResult(providers=[outcome]))
        assert con.execute("select status, error from sync_runs").fetchall() == [
            ("failed", "unpod: HTTP 400: bad token ***")]
