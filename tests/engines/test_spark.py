"""Apache Spark as an engine (issue 13 item 3): raw tables as Parquet in dlt's filesystem
bucket, the models on Spark (`local[2]` here, one JVM for the whole module), each contract
table a Parquet dataset at `<bucket>/marts/<table>/`, row for row equal to DuckDB's.

The Spark tests share one xdist group (`make test` runs with `--dist loadgroup`): one JVM
per test run, not one per worker.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines import sync
from pipelines.engines import spark as engine
from pipelines.warehouse import pipelines_dir
from simulator.server import Simulator
from sources._pages import RAW_CALL_SCHEMA
from tests.conftest import NOW, configure, query
from tests.test_bad_records import BAD, ODD

pytestmark = pytest.mark.xdist_group("spark")

PROVIDERS = ("bland", "sipsim", "unpod", "jambonz")
# each contract table, its key, and the columns a re-load may change (left out)
MARTS = {
    "calls": ("call_key", {"synced_at"}),
    "calls_daily": ("day, provider, direction", set()),
    "sip_configs": ("phone_number, direction", set()),
    "active_calls": ("call_key", {"observed_at"}),
    "calls_rejected": ("provider, record_key, reason", {"loaded_at"}),
}


@pytest.fixture(scope="session")
def spark_session() -> Iterator[Any]:
    """One local[2] Spark session for every Spark test of this process (its JVM starts in
    ~7 s); `pipelines.engines.spark.session` uses it instead of starting its own."""
    with engine.session("local[2]") as session:
        yield session


@pytest.fixture
def bucket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`destination = "filesystem"` with a file:// bucket in the test's temp dir."""
    folder = tmp_path / "bucket"
    monkeypatch.setenv("CALLSYNC__DESTINATION", "filesystem")
    monkeypatch.setenv("DESTINATION__FILESYSTEM__BUCKET_URL", folder.as_uri())
    monkeypatch.setenv("CALLSYNC__SPARK_MASTER", "local[2]")
    return folder


def mart(bucket: Path, name: str, sql: str = "select * from t") -> list[tuple[Any, ...]]:
    """Rows of the Parquet dataset `<bucket>/marts/<name>/`, read with DuckDB."""
    with duckdb.connect() as con:
        con.execute("set TimeZone = 'UTC'")
        con.execute(f"create view t as select * from read_parquet("
                    f"'{bucket / 'marts' / name}/**/*.parquet')")
        return con.execute(sql).fetchall()


def columns(con: duckdb.DuckDBPyConnection, relation: str) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in con.execute(f"describe {relation}").fetchall()]


def same_rows(warehouse: Path, bucket: Path) -> None:
    """Every contract table of the DuckDB warehouse equals the Spark mart row for row
    (names, types and order of columns too), the re-load columns aside."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        con.execute("set TimeZone = 'UTC'")
        for name, (key, loose) in MARTS.items():
            con.execute(f"create or replace temp view spark_{name} as select * from "
                        f"read_parquet('{bucket / 'marts' / name}/**/*.parquet')")
            assert columns(con, f"spark_{name}") == columns(con, f"main.{name}"), name
            kept = ", ".join(c for c, _ in columns(con, f"main.{name}") if c not in loose)
            duck = con.execute(f"select {kept} from main.{name} order by {key}").fetchall()
            lake = con.execute(f"select {kept} from spark_{name} order by {key}").fetchall()
            assert len(lake) == len(duck), name
            assert lake == duck, name


# raw records that are not JSON objects: kept raw, listed in calls_rejected on both engines
NOT_OBJECTS = ['"not an object"', "null", "[1, 2]", "42"]


def add_not_objects(warehouse: Path, bucket: Path) -> None:
    """The same non-object records appended to SIPSIM's raw table on both engines."""
    when = NOW.replace(tzinfo=UTC)
    table = pa.Table.from_pylist(
        [{"call_id": None, "started_at": None, "account_id": None, "record": r,
          "fetched_at": when} for r in NOT_OBJECTS], schema=RAW_CALL_SCHEMA)
    pq.write_table(table, bucket / "raw_sipsim" / "calls" / "extra.parquet")
    with duckdb.connect(str(warehouse)) as con:
        con.register("extra", table)
        con.execute("insert into raw_sipsim.calls by name select * from extra")


def test_the_same_api_data_gives_the_same_marts_on_spark_as_on_duckdb(
    sim: Simulator, warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    spark_session: Any,
) -> None:
    bland = sim.providers["bland"]
    for i, (record, _) in enumerate(BAD + [(r, "") for r in ODD]):
        bland.put_raw(bland.phone_numbers[0], record, NOW - timedelta(days=2, minutes=i))
    for slug in PROVIDERS:
        configure(monkeypatch, sim, slug)
    assert sync.run(warehouse).ok
    folder = tmp_path / "bucket"
    lake = tmp_path / "lake" / "calls.duckdb"  # the lock's and dlt working folder's place
    monkeypatch.setenv("CALLSYNC__DESTINATION", "filesystem")
    monkeypatch.setenv("DESTINATION__FILESYSTEM__BUCKET_URL", folder.as_uri())

    first = sync.run(lake)

    assert first.ok, [p.error for p in first.providers] + [first.build_error]
    assert not lake.exists()  # no DuckDB file: the bucket holds everything
    assert list((folder / "raw_bland" / "sip_calls").glob("*.parquet"))
    assert list((folder / "raw_unpod" / "_dlt_pipeline_state").iterdir())  # state too
    same_rows(warehouse, folder)
    assert mart(folder, "calls_rejected", "select count(*) from t") == [(len(BAD),)]
    assert {p.slug: p.new for p in first.providers} == dict(
        query(warehouse, "select provider, count(*) from calls group by 1"))
    assert first.rejected == {"bland": len(BAD)}

    # a lost working folder, new calls and non-object records: the next sync resumes
    # from the state in the bucket (no full reload), and the marts still equal DuckDB's
    shutil.rmtree(pipelines_dir(lake))
    sim.providers["unpod"].add_calls(3)
    add_not_objects(warehouse, folder)
    monkeypatch.setenv("CALLSYNC__DESTINATION", "duckdb")
    assert sync.run(warehouse).ok
    monkeypatch.setenv("CALLSYNC__DESTINATION", "filesystem")

    second = sync.run(lake)

    assert second.ok, [p.error for p in second.providers] + [second.build_error]
    records = {p.slug: (p.records, p.new) for p in second.providers}
    full = {p.slug: p.records for p in first.providers}
    assert all(records[s][0] < full[s] for s in PROVIDERS), (records, full)
    assert records["unpod"][1] == 3
    same_rows(warehouse, folder)
    rejected = mart(folder, "calls_rejected", "select count(*) from t where provider = 'sipsim'")
    assert rejected == [(len(NOT_OBJECTS),)]
    runs = mart(folder, "sync_runs", "select count(*), count(distinct run_id) from t")
    assert runs == [(8, 2)]
