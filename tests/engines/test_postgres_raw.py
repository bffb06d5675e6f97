"""Raw loads into PostgreSQL through dlt's postgres destination, as callsync's Postgres
engine makes them (issue 13; the whole flow: `test_postgres_sync.py`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dlt
import duckdb
import psycopg2
import pytest

from simulator.server import Simulator
from sources.unpod import unpod_source
from sources.unpod.client import call_id
from tests.conftest import configure

COLUMNS = "call_id, started_at, account_id, record"
LOOKBACK = timedelta(minutes=10)
Row = tuple[Any, ...]


def pipeline(destination: Any, workdir: Path) -> dlt.Pipeline:
    """callsync's raw pipeline for Unpod (name and dataset as `pipelines.sync` sets them)."""
    return dlt.pipeline(pipeline_name="callsync_unpod", destination=destination,
                        dataset_name="raw_unpod", pipelines_dir=str(workdir))


def utc(rows: list[Row]) -> list[Row]:
    """Rows sorted, `started_at` as UTC (psycopg2 and DuckDB give different tzinfo)."""
    return sorted(((r[0], r[1].astimezone(UTC), *r[2:]) for r in rows),
                  key=lambda r: (r[1], r[0] or "", r[3]))


def postgres_rows(dsn: str, where: str = "") -> list[Row]:
    with psycopg2.connect(dsn) as con, con.cursor() as cur:
        cur.execute(f"select {COLUMNS} from raw_unpod.call_logs {where}")
        rows = cur.fetchall()
    con.close()
    return utc(rows)


def start_dates(sim: Simulator) -> list[datetime]:
    """The `start_date` filter of every call-log request so far."""
    return [datetime.fromisoformat(r.query["start_date"].replace("Z", "+00:00"))
            for r in sim.requests_for("unpod", "call-logs")]


def test_raw_rows_in_postgres_equal_duckdbs_and_state_resumes_from_postgres(
    sim: Simulator, postgres: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, sim, "unpod", lookback=int(LOOKBACK.total_seconds()))
    into_postgres = pipeline(dlt.destinations.postgres(postgres), tmp_path / "pg.dlt")
    into_postgres.run(unpod_source())
    into_duckdb = pipeline(dlt.destinations.duckdb(str(tmp_path / "calls.duckdb")),
                           tmp_path / "duck.dlt")
    into_duckdb.run(unpod_source())

    loaded = postgres_rows(postgres)
    with duckdb.connect(str(tmp_path / "calls.duckdb"), read_only=True) as con:
        expected = utc(con.execute(f"select {COLUMNS} from raw_unpod.call_logs").fetchall())
    assert len(loaded) > 100 and any("|" in r[0] for r in loaded)  # records without an id too
    assert loaded == expected  # same count, same ids, same records

    with psycopg2.connect(postgres) as con, con.cursor() as cur:
        cur.execute("select count(*) from raw_unpod._dlt_pipeline_state "
                    "where pipeline_name = 'callsync_unpod'")
        assert cur.fetchone() == (1,)  # dlt's state is stored in Postgres
    con.close()
    # a second pipeline with an empty working folder: state comes back from Postgres
    newest = loaded[-1][1]
    added = sim.providers["unpod"].add_calls(3)
    before = len(sim.requests_for("unpod", "call-logs"))
    resumed = pipeline(dlt.destinations.postgres(postgres), tmp_path / "fresh.dlt")
    resumed.run(unpod_source())
    assert start_dates(sim)[before:] == [newest - LOOKBACK]
    after = postgres_rows(postgres)
    fresh = {r[0] for r in after} - {r[0] for r in loaded}
    assert fresh == {call_id(c) for c in added}
    reread = [r for r in loaded if r[1] >= newest - LOOKBACK]
    assert len(after) - len(loaded) <= len(reread) + len(added) < len(loaded)  # no full reload
