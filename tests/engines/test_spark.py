"""Apache Spark as an engine (issue 13 item 3): raw tables as Parquet in dlt's filesystem
bucket, the models on Spark (`local[2]` here, one JVM for the whole module), each contract
table a Parquet dataset at `<bucket>/marts/<table>/`, row for row equal to DuckDB's.

The Spark tests share one xdist group (`make test` runs with `--dist loadgroup`): one JVM
per test run, not one per worker.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
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
from tests.cli.helpers import callsync, callsync_here
from tests.conftest import NOW, configure, query
from tests.engines.postgres import free_port
from tests.engines.spark_cluster import cluster
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
    # section 7: a view on DuckDB, a dataset as of the build on Spark
    "calls_unfinished": ("call_key", {"following_since"}),
    "call_checks": ("rule, provider", {"checked_at"}),
}


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
    with duckdb.connect(str(warehouse), read_only=True) as con:  # sync_runs: same columns
        con.execute(f"create temp view lake_runs as select * from read_parquet("
                    f"'{folder / 'marts' / 'sync_runs'}/*.parquet')")
        assert columns(con, "lake_runs") == columns(con, "main.sync_runs")
        assert con.execute("select provider, status, error, backfill, calls_new, rejected "
                           "from lake_runs order by all").fetchall() == con.execute(
            "select provider, status, error, backfill, calls_new, rejected from main.sync_runs "
            "order by all").fetchall()


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*")
            if p.is_file()}


def test_commands_on_spark_and_a_failed_build_replaces_no_mart(
    sim: Simulator, bucket: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], spark_session: Any,
) -> None:
    configure(monkeypatch, sim, "unpod")
    assert callsync_here("sync", capsys=capsys).code == 0
    marts = files(bucket / "marts")

    # a build that fails after most marts were written: the old marts stay, one line
    monkeypatch.setattr(engine, "checks_sql", lambda rules: "select nope from calls")
    failed = callsync_here("transform", capsys=capsys)
    assert failed.code == 1
    assert len(failed.err.strip().splitlines()) == 1 and "nope" in failed.err, failed.err
    assert files(bucket / "marts") == marts
    assert not list((bucket / "marts").glob(".build-*"))
    monkeypatch.undo()
    configure(monkeypatch, sim, "unpod")
    monkeypatch.setenv("CALLSYNC__DESTINATION", "filesystem")
    monkeypatch.setenv("DESTINATION__FILESYSTEM__BUCKET_URL", bucket.as_uri())

    shutil.rmtree(bucket / "marts" / "calls_daily")
    rebuilt = callsync_here("transform", capsys=capsys)
    assert rebuilt.code == 0, rebuilt.err
    assert mart(bucket, "calls_daily", "select sum(calls) from t") == \
        mart(bucket, "calls", "select count(*) from t")

    status = callsync_here("status", "--json", capsys=capsys)
    unpod = json.loads(status.out)["providers"]["unpod"]
    assert status.code == 0 and unpod["last_run_status"] == "ok"
    assert unpod["calls"] == mart(bucket, "calls", "select count(*) from t")[0][0] > 0
    assert unpod["cursor"] is not None  # read from dlt's state in the bucket

    checked = callsync("check", cwd=tmp_path)  # a process of its own: its own JVM
    assert checked.code == 0 and checked.err == "", checked.err
    assert "checks failing" in checked.out
    assert mart(bucket, "call_checks", "select count(distinct rule) from t")[0][0] == len(
        engine.checks.rules())

    published = callsync_here("publish", capsys=capsys)
    assert published.code == 0 and "nothing to publish: on Spark" in published.out
    reported = callsync_here("report", "--out", str(tmp_path / "r.html"), capsys=capsys)
    assert reported.code == 0, reported.err
    assert "unpod" in (tmp_path / "r.html").read_text()


@pytest.mark.parametrize(("env", "says"), [
    ({"DESTINATION__FILESYSTEM__BUCKET_URL": None},
     "needs a bucket: set DESTINATION__FILESYSTEM__BUCKET_URL"),
    ({"DESTINATION__FILESYSTEM__BUCKET_URL": "s3://calls/lake"},
     "Spark reads only file:// buckets here"),
    ({"CALLSYNC__SPARK_MASTER": "yarn"}, "spark_master 'yarn' is neither"),
    ({"CALLSYNC__SPARK_MASTER": "spark://127.0.0.1:{port}"},
     "Spark master spark://127.0.0.1:{port} cannot be reached"),
    ({"PATH": "{empty}", "JAVA_HOME": None}, "Java not found"),
    ({"JAVA_HOME": "{empty}"}, "Java not found: JAVA_HOME="),
    ({"DESTINATION__FILESYSTEM__BUCKET_URL": "{file}/bucket"}, "cannot be written"),
], ids=["no-bucket", "s3", "bad-master", "master-down", "no-java", "bad-java-home",
        "bucket-not-writable"])
def test_what_spark_needs_is_checked_before_any_request_in_one_line(
    sim: Simulator, bucket: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], env: dict[str, str | None], says: str,
) -> None:
    configure(monkeypatch, sim, "unpod")
    (tmp_path / "empty").mkdir()
    (tmp_path / "file").write_text("")
    fill = {"port": str(free_port()), "empty": str(tmp_path / "empty"),
            "file": (tmp_path / "file").as_uri()}
    for key, value in env.items():
        if value is None:
            monkeypatch.delenv(key, raising=False)
        else:
            monkeypatch.setenv(key, value.format(**fill))

    run = callsync_here("sync", capsys=capsys)

    assert run.code == 2, run
    lines = [line for line in run.err.splitlines() if line.strip()]
    assert len(lines) == 1 and says.format(**fill) in lines[0], run.err
    assert "Traceback" not in run.err + run.out
    assert sim.requests == []  # nothing was asked of any API
    assert not bucket.exists() or not any(bucket.rglob("*.parquet"))


# inputs each macro must read as DuckDB's does (transforms/macros/normalize.sql)
MACRO_INPUTS: dict[str, tuple[str, str, list[tuple[str | None, ...]]]] = {
    "ts": ("staging.ts(?)", "staging_ts({})", [(v,) for v in [
        "2026-10-30T10:00:00Z", "2026-10-30 10:00:00+02", "2026-10-30T10:00:00.123456789Z",
        "2026-10-30", "2026", "2026-10-30T10:00", "20261030", "0000-00-00 00:00:00",
        "2026-10-30T10:00:00+0530", " 2026-10-30T10:00:00Z ", "2026-10-30T10:00:00 UTC",
        "2026-10-30T10:00:00.5-07:00", "1793354400", "1793354400000", "1793354400.5", "-5",
        "0", "1970-01-01T00:00:00Z", "infinity", "nope", None, "", "2026-02-30T10:00:00Z",
        "2026-10-30T25:00:00Z"]]),
    "duration": ("staging.duration(?)", "staging_duration({})", [(v,) for v in [
        "45", "45.9", "1:02:03", "01:02:03", "02:03", "2 days, 1:02:03", "1 day, 0:00:01.5",
        "abc", "1e3", " 45 ", "-3", "99999999999", None, "1:2:3", "12:34.5"]]),
    "e164": ("staging.e164(?)", "staging_e164({})", [(v,) for v in [
        "+1 (415) 555-0100", "0044 20 7946 0958", "14155550100", "anonymous", "sip:a@b",
        "555", "+14155550100", "004", "  +1 415 555 0100 ", None]]),
    "token": ("staging.token(?)", "staging_token({})",
              [(" No-Answer ",), ("IN_PROGRESS",), (None,)]),
    "bool": ("try_cast(? as boolean)", "staging_bool({})", [(v,) for v in [
        "true", "True", "t", "1", "yes", "y", "on", "false", "f", "0", "no", " true ", "2",
        "TRUE", "n", None]]),
    "int": ("try_cast(try_cast(? as double) as integer)", "staging_int({})", [(v,) for v in [
        "200", "200.5", "201.5", "-2.5", "abc", " 200 ", "1e3", "99999999999", None]]),
    "resolve_url": ("staging.resolve_url(?, ?)", "staging_resolve_url({}, {})", [
        ("rec/1.wav", "http://h/api/"), ("/rec/1.wav", "http://h/api"),
        ("https://x/y", "http://h"), ("rec", None), (None, "http://h")]),
}


def spark_literal(value: str | None) -> str:
    if value is None:
        return "null"
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def test_spark_functions_read_every_value_as_duckdbs_macros_do(spark_session: Any) -> None:
    for path in sorted((engine.SPARK_TRANSFORMS / "macros").glob("*.sql")):
        engine.run_script(spark_session, path.read_text())
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'; create schema staging")
    con.execute((engine.transform.TRANSFORMS / "macros" / "normalize.sql").read_text())
    differ = []
    for name, (duck, spark, inputs) in MACRO_INPUTS.items():
        # one Spark query per function, a column per input
        got = spark_session.sql("select " + ", ".join(
            spark.format(*(spark_literal(a) for a in args)) for args in inputs)).collect()[0]
        for args, value in zip(inputs, got, strict=True):
            expected = con.execute(f"select {duck}", list(args)).fetchone()
            want = expected[0] if expected else None
            if isinstance(want, datetime) and isinstance(value, datetime):
                want, value = want.astimezone(UTC), value.astimezone(UTC)
            if value != want:
                differ.append((name, args, want, value))
    assert differ == []


def test_a_sync_on_a_standalone_cluster_writes_the_marts_duckdb_would(
    sim: Simulator, warehouse: Path, bucket: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`callsync sync` as a real process, its models run by a Spark master and worker on
    127.0.0.1 that this test starts (pyspark's `bin/spark-class`) and stops by PID."""
    configure(monkeypatch, sim, "unpod")
    configure(monkeypatch, sim, "jambonz")
    monkeypatch.setenv("CALLSYNC__DESTINATION", "duckdb")
    assert sync.run(warehouse).ok  # the reference: the same API data into DuckDB
    monkeypatch.setenv("CALLSYNC__DESTINATION", "filesystem")
    with cluster(tmp_path / "cluster") as master:
        monkeypatch.setenv("CALLSYNC__SPARK_MASTER", master)
        run = callsync("--warehouse", str(tmp_path / "lake" / "calls.duckdb"), "sync",
                       cwd=tmp_path, timeout=600)
        assert run.code == 0, run.err
        assert run.err.strip() == "", run.err  # Spark's own logs stay off the console
        assert "models built" in run.out
        status = callsync("status", "--json", cwd=tmp_path)
    same_rows(warehouse, bucket)
    assert mart(bucket, "calls", "select count(*) from t")[0][0] > 300
    providers = json.loads(status.out)["providers"]
    assert providers["unpod"]["calls"] == query(
        warehouse, "select count(*) from calls where provider = 'unpod'")[0][0]
