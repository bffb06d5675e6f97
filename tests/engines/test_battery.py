"""Same data, same rows (issue 13 item 4): one sync flow (a first sync, then new, changed
and broken records) run on DuckDB, PostgreSQL and filesystem + Spark against the same
simulated APIs; every contract table, and the comparable columns of `sync_runs`, are
equal on the three engines after each sync."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from pipelines import sync
from pipelines.engines import postgres
from simulator.server import Simulator
from sources import PROVIDERS
from tests.conftest import NOW, configure
from tests.engines.same_rows import (
    LOAD_TIMES,
    RUN_COLUMNS,
    TABLES,
    Table,
    differences,
    from_duckdb,
    from_parquet,
    from_postgres,
)
from tests.test_bad_records import BAD, ODD

pytestmark = pytest.mark.xdist_group("spark")  # one JVM per test process

# section 7's tables besides the five of section 3
MORE = ("call_checks", "calls_unfinished")
# when a row was loaded, and when each engine first fetched an unfinished call
LOOSE = (*LOAD_TIMES, "following_since")


def run_on(engine: str, monkeypatch: pytest.MonkeyPatch, target: Any) -> sync.SyncResult:
    """One `callsync sync` on `engine` (`target`: the DuckDB file, the Postgres DSN, or
    the bucket folder for Spark)."""
    monkeypatch.setenv("CALLSYNC__DESTINATION", engine)
    if engine == "duckdb":
        return sync.run(target)
    if engine == "postgres":
        monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", target)
        return postgres.run()
    monkeypatch.setenv("DESTINATION__FILESYSTEM__BUCKET_URL", target.as_uri())
    monkeypatch.setenv("CALLSYNC__SPARK_MASTER", "local[2]")
    return sync.run(target.parent / "lake" / "calls.duckdb")  # lock + working folder


def all_differ(table: str, copies: dict[str, Callable[[], Table]]) -> list[str]:
    """What each engine's copy of `table` has that DuckDB's has not, and the reverse."""
    expected = copies["duckdb"]()
    found = []
    for engine, read in copies.items():
        if engine != "duckdb":
            found += [f"{table} on {engine}: {d}" for d in differences(expected, read())]
    return found


def compare(warehouse: Path, dsn: str, bucket: Path) -> list[str]:
    found = []
    for table in (*TABLES, *MORE):
        found += all_differ(table, {
            "duckdb": lambda t=table: from_duckdb(warehouse, t, exclude=LOOSE),
            "postgres": lambda t=table: from_postgres(dsn, t, exclude=LOOSE),
            "spark": lambda t=table: from_parquet(bucket, t, exclude=LOOSE)})
    found += all_differ("sync_runs", {
        "duckdb": lambda: from_duckdb(warehouse, "sync_runs", only=RUN_COLUMNS),
        "postgres": lambda: from_postgres(dsn, "sync_runs", only=RUN_COLUMNS),
        "spark": lambda: from_parquet(bucket, "sync_runs", only=RUN_COLUMNS)})
    return found


def test_one_sync_flow_gives_the_same_rows_on_every_engine(
    sim: Simulator, warehouse: Path, postgres: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, spark_session: Any,
) -> None:
    bland = sim.providers["bland"]
    for i, (record, _) in enumerate(BAD + [(r, "") for r in ODD]):
        bland.put_raw(bland.phone_numbers[0], record, NOW - timedelta(days=2, minutes=i))
    for slug in PROVIDERS:
        configure(monkeypatch, sim, slug)
    targets: dict[str, Any] = {"duckdb": warehouse, "postgres": postgres,
                               "filesystem": tmp_path / "bucket"}

    first = {engine: run_on(engine, monkeypatch, target) for engine, target in targets.items()}

    assert all(r.ok for r in first.values()), {
        e: ([p.error for p in r.providers], r.build_error) for e, r in first.items()}
    assert compare(warehouse, postgres, targets["filesystem"]) == []
    assert from_duckdb(warehouse, "calls").rows  # not three empty warehouses

    # the incremental path: new calls on two providers
    sim.providers["unpod"].add_calls(3)
    sim.providers["sipsim"].add_calls(2)

    second = {engine: run_on(engine, monkeypatch, target) for engine, target in targets.items()}

    assert all(r.ok for r in second.values())
    news = {engine: {p.slug: p.new for p in r.providers} for engine, r in second.items()}
    assert news["duckdb"]["unpod"] == 3 and news["postgres"] == news["duckdb"]
    assert news["filesystem"] == news["duckdb"]
    assert compare(warehouse, postgres, targets["filesystem"]) == []
