"""Apache Spark as an engine (contract section 6): `[callsync] destination = "filesystem"`.

- `sync` loads each provider's raw tables as Parquet under dlt's filesystem bucket
  (`DESTINATION__FILESYSTEM__BUCKET_URL`, `<bucket>/raw_<slug>/<table>/`), dlt's state
  included (`<bucket>/raw_<slug>/_dlt_pipeline_state/`): a lost working folder resumes
  from the bucket.
- The models then run on Spark (`[callsync] spark_master`, `spark://host:port` or
  `local[N]`, default `local[2]`): Spark's staging (`transforms/spark/macros`,
  `transforms/spark/staging`), then DuckDB's own marts and check rules, rendered with the
  runner's variables and carried to Spark SQL by sqlglot (`pipelines.engines.transpile`).
  Every mart is rebuilt in full and written as a Parquet dataset at
  `<bucket>/marts/<table>/`: first all of them beside the old ones
  (`<bucket>/marts/.build-<id>/`), then each swapped in by two renames, so a build that
  fails half-way replaces nothing.
- `sync_runs` is a Parquet dataset too (`<bucket>/marts/sync_runs/`, one file per run,
  appended, never rewritten). Summaries, `status` and the sync's own reads (unfinished
  calls) read the marts with DuckDB's Parquet reader, no JVM.

Only `file://` buckets (a local or mounted folder, shared with every worker of a cluster):
Spark reads `s3://`, `gs://` and `az://` only through Hadoop connector jars that pyspark
does not ship, and callsync fetches no jar.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import unquote, urlparse

import dlt
import duckdb
import sqlglot
from sqlglot import exp

from pipelines import checks, transform
from pipelines.engines import transpile
from pipelines.errors import UsageError
from sources import PROVIDERS

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from pipelines.sync import SyncResult

log = logging.getLogger("callsync.spark")

ENGINE = "filesystem"  # `[callsync] destination`
DEFAULT_MASTER = "local[2]"
SPARK_TRANSFORMS = transform.TRANSFORMS / "spark"
LOG_CONFIG = Path(__file__).with_name("spark-log4j2.properties")
MARTS = "marts"
RUNS = "sync_runs"
CHECKS = "call_checks"
# DuckDB types of RAW_COLUMNS as Spark's, for the stand-in of a raw table not loaded yet
SPARK_TYPES = {"varchar": "string", "timestamptz": "timestamp", "json": "string"}
# a local master: `local`, `local[2]`, `local[*]`, `local[2,3]` (with retries)
LOCAL = re.compile(r"local(\[(\d+|\*)(,\d+)?\])?")
SESSION = {
    "spark.app.name": "callsync",
    "spark.sql.session.timeZone": "UTC",  # timestamps are instants, days are UTC days
    "spark.sql.shuffle.partitions": "2",  # call logs are small for Spark: few tasks
    "spark.default.parallelism": "2",
    "spark.driver.host": "127.0.0.1",  # loopback only; a remote cluster: set SPARK_CONF
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    # Parquet timestamps as UTC instants in microseconds (not Spark's legacy INT96), which
    # DuckDB, pyarrow and every other reader take as TIMESTAMPTZ
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.sql.sources.partitionOverwriteMode": "static",
}


@dataclass(frozen=True)
class Spark:
    """The configured Spark engine: where the bucket is and which master runs the models."""

    bucket_url: str
    master: str

    @property
    def bucket(self) -> Path:
        """The bucket as a local folder (`file://` only, see the module docstring)."""
        return Path(unquote(urlparse(self.bucket_url).path))

    @property
    def marts(self) -> Path:
        return self.bucket / MARTS

    def destination(self) -> Any:
        """dlt's filesystem destination for the raw tables: Parquet files in the bucket."""
        return dlt.destinations.filesystem(bucket_url=self.bucket_url,
                                           preferred_loader_file_format="parquet")

    def ready(self) -> None:
        """Fail before any request when Spark cannot run: no Java, a master that does not
        answer, a bucket that cannot be written.

        Raises:
            UsageError: one line naming what is missing and what to do.
        """
        java_found()
        reachable(self.master)
        writable(self.bucket)


def configured() -> Spark | None:
    """The Spark engine when `[callsync] destination` is `filesystem`, else None.

    Raises:
        UsageError: `destination = "filesystem"` without a usable bucket or master.
    """
    chosen: object = dlt.config.get("callsync.destination")
    if chosen is None or str(chosen).strip().lower() != ENGINE:
        return None
    url: object = dlt.config.get("destination.filesystem.bucket_url")
    if not isinstance(url, str) or not url.strip():
        raise UsageError("destination = \"filesystem\" needs a bucket: set "
                         "DESTINATION__FILESYSTEM__BUCKET_URL (or [destination.filesystem] "
                         "bucket_url), e.g. file:///srv/callsync")
    url = url.strip()
    parsed = urlparse(url)
    if parsed.scheme == "":
        url = Path(url).expanduser().absolute().as_uri()
    elif parsed.scheme != "file":
        raise UsageError(f"bucket {url!r}: Spark reads only file:// buckets here ({parsed.scheme}"
                         ":// needs Hadoop connector jars that pyspark does not ship); use a "
                         "local or mounted folder, file:///path")
    master: object = dlt.config.get("callsync.spark_master")
    chosen_master = str(master).strip() if master not in (None, "") else DEFAULT_MASTER
    if not (LOCAL.fullmatch(chosen_master) or chosen_master.startswith("spark://")):
        raise UsageError(f"spark_master {chosen_master!r} is neither spark://host:port nor "
                         "local[N] ([callsync] spark_master / CALLSYNC__SPARK_MASTER)")
    return Spark(url, chosen_master)


def java_found() -> str:
    """The `java` Spark will start: `$JAVA_HOME/bin/java`, else `java` on the PATH.

    Raises:
        UsageError: neither exists.
    """
    home = os.environ.get("JAVA_HOME", "").strip()
    if home:
        java = Path(home) / "bin" / "java"
        if java.is_file() and os.access(java, os.X_OK):
            return str(java)
        raise UsageError(f"Java not found: JAVA_HOME={home} has no bin/java; point JAVA_HOME "
                         "at a Java 17+ runtime (Debian: apt-get install "
                         "openjdk-17-jre-headless)")
    found = shutil.which("java")
    if found is None:
        raise UsageError("Java not found: Spark needs a Java 17+ runtime (`java` on the PATH "
                         "or JAVA_HOME); install openjdk-17-jre-headless")
    return found


def reachable(master: str, timeout: float = 5.0) -> None:
    """Fail unless a `spark://` master accepts a connection (Spark itself would retry for
    a minute, then fail with a stack trace); a local master always runs.

    Raises:
        UsageError: no master of the URL answers.
    """
    if not master.startswith("spark://"):
        return
    errors = []
    for address in master.removeprefix("spark://").split(","):
        host, _, port = address.strip().rpartition(":")
        try:
            with socket.create_connection((host, int(port)), timeout=timeout):
                return
        except (OSError, ValueError) as exc:
            errors.append(f"{address}: {exc.strerror if isinstance(exc, OSError) else exc}")
    raise UsageError(f"Spark master {master} cannot be reached ({'; '.join(errors)}): start "
                     "it, or fix [callsync] spark_master / CALLSYNC__SPARK_MASTER")


def writable(bucket: Path) -> None:
    """Fail unless files can be created in the bucket (created when missing).

    Raises:
        UsageError: naming the folder and the reason.
    """
    probe = bucket / f".callsync-probe-{uuid.uuid4().hex}"
    try:
        bucket.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise UsageError(f"bucket {bucket.as_uri()} cannot be written ({exc.strerror or exc}): "
                         "fix its permissions or DESTINATION__FILESYSTEM__BUCKET_URL") from None


@contextmanager
def session(master: str) -> Iterator[SparkSession]:
    """A Spark session on `master` with callsync's settings, stopped afterwards; the
    active one (a test's, or a notebook's) is used as it is, and left running."""
    from pyspark import SparkConf, SparkContext
    from pyspark.java_gateway import launch_gateway
    from pyspark.sql import SparkSession

    debug = logging.getLogger("callsync").isEnabledFor(logging.DEBUG)
    # pyspark logs each failed query as a JSON line with the JVM's stack: the failure
    # reaches the user as callsync's one line instead (all of it with --debug)
    logging.getLogger("SQLQueryContextLogger").setLevel(
        logging.WARNING if debug else logging.CRITICAL + 1)
    active = SparkSession.getActiveSession()
    if active is not None:
        yield active
        return
    conf = SparkConf().setMaster(master).setAll(list(SESSION.items()))
    conf.set("spark.driver.extraJavaOptions",
             f"-Dlog4j2.configurationFile={LOG_CONFIG.as_uri()} "
             f"-Dcallsync.spark.log={'warn' if debug else 'off'}")
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # no lookup of the host's name
    began = time.monotonic()
    # the JVM's own console lines (its module warning, Spark's banner) only with --debug:
    # a failure reaches the user as callsync's one line, from the Python exception
    quiet = {} if debug else {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    gateway = launch_gateway(conf, popen_kwargs=quiet)
    spark = SparkSession(SparkContext(conf=conf, gateway=gateway))
    log.debug("spark session on %s in %.1f s", master, time.monotonic() - began)
    try:
        yield spark
    finally:
        spark.stop()


# ---------------------------------------------------------------------------------------
# SQL: DuckDB's relation names as Spark's temporary views and functions


def view_name(schema: str, name: str) -> str:
    """The temporary view standing for DuckDB's `schema.name` on Spark: `staging.x` is
    `staging_x` (Spark allows no schema on a temporary object), `raw_<slug>.t` is
    `raw_<slug>__t`, `main.x` is `x`."""
    if schema == "main":
        return name
    if schema == "staging":
        return f"staging_{name}"
    return f"{schema}__{name}"


def spark_sql(duckdb_sql: str) -> str:
    """DuckDB SQL (a mart, a check) as Spark SQL: sqlglot's transpile, then DuckDB's
    qualified relations and `staging.<macro>(...)` calls named as on Spark (`view_name`),
    and `timezone('UTC', x)` as `x` (the session's zone is UTC)."""
    tree = sqlglot.parse_one(transpile(duckdb_sql, "spark"), read="spark")

    def rename(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Table) and node.args.get("db") is not None and node.db:
            renamed = exp.to_identifier(view_name(node.db, node.name))
            node.set("this", renamed)
            node.set("db", None)
            return node
        if (isinstance(node, exp.Dot) and isinstance(node.this, exp.Identifier | exp.Column)
                and node.this.name == "staging" and isinstance(node.expression, exp.Anonymous)):
            call = node.expression
            return exp.Anonymous(this=f"staging_{call.name}", expressions=call.expressions)
        if (isinstance(node, exp.Anonymous) and node.name.lower() == "timezone"
                and len(node.expressions) == 2
                and isinstance(node.expressions[0], exp.Literal)
                and node.expressions[0].this.upper() == "UTC"):
            return node.expressions[1]
        return node

    out = tree.transform(rename).sql(dialect="spark", unsupported_level=sqlglot.ErrorLevel.RAISE)
    return out


def run_script(spark: SparkSession, sql: str) -> None:
    """Run the statements of a `;`-separated Spark SQL file (`--` comments skipped)."""
    for statement in sql.split(";\n"):
        body = "\n".join(line for line in statement.splitlines()
                         if not line.lstrip().startswith("--")).strip().removesuffix(";")
        if body:
            spark.sql(body)


def bindings() -> dict[str, str]:
    """Every variable of the runner (`transform.VARIABLES`) as a DuckDB-qualified name,
    which `spark_sql` (marts) or `_staging_sql` (Spark's staging) names for Spark."""
    bound = {"previous_calls": f"(select * from staging.{transform.CALLS_STAGING} where false)",
             "calls": "main.calls"}
    for slug, provider in PROVIDERS.items():
        for table in provider.settings.RAW_COLUMNS:
            bound[f"raw_{slug}.{table}"] = f"raw_{slug}.{table}"
        url = transform.base_url(slug)
        bound[f"base_url.{slug}"] = ("cast(null as string)" if url is None
                                     else "'" + url.replace("\\", "\\\\").replace("'", "\\'")
                                     + "'")
    return bound


def _render(sql: str, bound: Mapping[str, str]) -> str:
    # every variable is bound, so the runner never asks the (DuckDB) connection anything
    return transform.render(sql, transform.Context(cast(Any, None), {}, bound))


def _staging_sql(sql: str, bound: Mapping[str, str]) -> str:
    """Spark's own staging (already Spark SQL) with its variables as Spark's names."""
    names = {key: (view_name(*value.split(".", 1)) if key.startswith("raw_") else value)
             for key, value in bound.items()}
    for path in (SPARK_TRANSFORMS / "staging").glob("*.sql"):
        names[f"staging.{path.stem}"] = view_name("staging", path.stem)
    return _render(sql, names)


# ---------------------------------------------------------------------------------------
# the build


@dataclass
class SparkBuild:
    """What a Spark build wrote and changed."""

    report: transform.BuildReport
    marts: list[str]


def register_raw(spark: SparkSession, bucket: Path) -> None:
    """A temporary view per raw table (`raw_<slug>__<table>`): its Parquet files read with
    the declared columns as the schema (no inference job; a column no file has is null),
    or an empty stand-in of those columns before the first load."""
    for slug, provider in PROVIDERS.items():
        for table, columns in provider.settings.RAW_COLUMNS.items():
            folder = bucket / f"raw_{slug}" / table
            name = view_name(f"raw_{slug}", table)
            schema = ", ".join(f"`{c}` {SPARK_TYPES[t]}" for c, t in columns.items())
            if folder.is_dir() and any(folder.glob("*.parquet")):
                (spark.read.schema(schema).option("pathGlobFilter", "*.parquet")
                 .parquet(folder.as_uri()).createOrReplaceTempView(name))
            else:
                picked = ", ".join(f"cast(null as {SPARK_TYPES[t]}) as `{c}`"
                                   for c, t in columns.items())
                spark.sql(f"create or replace temporary view {name} as "
                          f"select {picked} where false")


def staging_models() -> list[Path]:
    """Spark's staging views in build order (those over raw tables first, as DuckDB's)."""
    paths = sorted((SPARK_TRANSFORMS / "staging").glob("*.sql"))
    return sorted(paths, key=lambda p: (bool(transform.staging_inputs(p.read_text())), p.stem))


def create_functions(spark: SparkSession) -> None:
    """The macros as Spark SQL functions of this session (`staging_<name>`)."""
    for path in sorted((SPARK_TRANSFORMS / "macros").glob("*.sql")):
        run_script(spark, path.read_text())


def build_staging(spark: SparkSession) -> None:
    """The macros as Spark SQL functions, then the staging views over the raw views."""
    create_functions(spark)
    bound = bindings()
    for path in staging_models():
        sql = _staging_sql(path.read_text(), bound)
        spark.sql(f"create or replace temporary view {view_name('staging', path.stem)} "
                  f"as {sql}")
    check_calls_staging(spark)


def check_calls_staging(spark: SparkSession) -> None:
    """As DuckDB's runner: every branch of `stg_calls` has the same columns and types in the
    same order (`union all` pairs them by position).

    Raises:
        transform.TemplateError: naming the view and its first differing column.
    """
    views = transform.staging_inputs((SPARK_TRANSFORMS / "staging" /
                                      f"{transform.CALLS_STAGING}.sql").read_text())
    shapes = {v: [(f.name, f.dataType.simpleString())
                  for f in spark.table(view_name("staging", v)).schema.fields] for v in views}
    transform.check_union_shapes(views, shapes)


def mart_sql(path: Path) -> str:
    """A mart of `transforms/marts/` as the Spark SQL that builds it in full."""
    return spark_sql(_render(path.read_text(), bindings()))


def checks_sql(rules: list[checks.Rule]) -> str:
    """`call_checks` on Spark: each rule's condition (DuckDB SQL, transpiled) over one scan
    of `calls`, as `pipelines.checks.checks_sql` does on DuckDB; the 5 smallest failing
    keys are `slice(array_sort(collect_list(...)), 1, 5)`."""
    flags = ",\n".join(
        f"case when ({spark_sql(r.condition)}) then true else false end as fails_{r.name}"
        for r in rules)
    measures = ",\n".join(
        f"count_if(fails_{r.name}) as {r.name}__failing, "
        f"slice(array_sort(collect_list(case when fails_{r.name} then call_key end)), 1, "
        f"{checks.SAMPLES}) as {r.name}__samples" for r in rules)
    selects = "\nunion all\n".join(
        f"select '{r.name}' as rule, provider, '{r.severity}' as severity, "
        f"{r.name}__failing as failing_rows, total_rows, {r.name}__samples as sample_keys "
        "from counted" for r in rules)
    return f"""
with flagged as (select provider, call_key, {flags} from calls),
counted as (select provider, count(*) as total_rows, {measures} from flagged group by provider),
results as ({selects})
select rule, provider, severity, cast(failing_rows as bigint) as failing_rows,
    cast(total_rows as bigint) as total_rows, sample_keys,
    current_timestamp() as checked_at
from results
"""


def build(spark: SparkSession, engine: Spark) -> SparkBuild:
    """Build every mart in full on Spark and swap them in at `<bucket>/marts/<table>/`.

    The marts are written under `<bucket>/marts/.build-<id>/` first (each read back from
    there by the marts after it); only when all are written is each moved into place,
    the old one moved aside first and then deleted. A build that fails leaves the marts
    as they were (its folder is deleted).
    """
    began = time.monotonic()
    marts = engine.marts
    marts.mkdir(parents=True, exist_ok=True)
    for leftover in marts.glob(".build-*"):  # a killed build's (the lock is held)
        shutil.rmtree(leftover, ignore_errors=True)
    staging_dir = marts / f".build-{uuid.uuid4().hex[:12]}"
    register_raw(spark, engine.bucket)
    build_staging(spark)
    log.debug("spark: staging views in %.1f s", time.monotonic() - began)
    written: list[str] = []
    try:
        # the union of the staging views, computed once: `calls` and `calls_rejected` read it
        _write(spark, f"select * from {view_name('staging', transform.CALLS_STAGING)}",
               staging_dir / "_staging", view_name("staging", transform.CALLS_STAGING))
        for path in transform.models("marts"):
            _write(spark, mart_sql(path), staging_dir, path.stem)
            written.append(path.stem)
        _write(spark, checks_sql(checks.rules()), staging_dir, CHECKS)
        written.append(CHECKS)
        report = changes(spark, marts / "calls", staging_dir / "calls")
        _swap(marts, staging_dir, written)
    finally:
        shutil.rmtree(staging_dir, ignore_errors=True)
    report.seconds = time.monotonic() - began
    log.debug("spark: %d marts built in %.1f s", len(written), report.seconds)
    return SparkBuild(report, written)


def _write(spark: SparkSession, sql: str, folder: Path, name: str) -> DataFrame:
    """Write the query's rows as the Parquet dataset `folder/name`, and make it the view
    `name` that the marts after it read (so `calls` is computed once)."""
    began = time.monotonic()
    target = (folder / name).as_uri()
    spark.sql(sql).write.mode("overwrite").parquet(target)
    frame = spark.read.parquet(target)
    frame.createOrReplaceTempView(name)
    log.debug("spark: %s written in %.1f s", name, time.monotonic() - began)
    return frame


def _swap(marts: Path, built: Path, names: list[str]) -> None:
    """Move each built dataset into place: the old one aside, the new one in, the old one
    deleted (two renames: a reader may find the folder missing for that instant)."""
    aside = built.with_name(built.name + "-old")
    aside.mkdir()
    for name in names:
        final = marts / name
        if final.exists():
            final.rename(aside / name)
        (built / name).rename(final)
    shutil.rmtree(aside, ignore_errors=True)


def changes(spark: SparkSession, old: Path, new: Path) -> transform.BuildReport:
    """New and updated calls per provider: the new `calls` against the old (every column
    but `call_key` and `synced_at` compared, nulls equal)."""
    report = transform.BuildReport()
    fresh = spark.read.parquet(new.as_uri())
    if not old.is_dir():
        for row in fresh.groupBy("provider").count().collect():
            report.new[row[0]], report.updated[row[0]] = int(row[1]), 0
        return report
    spark.read.parquet(old.as_uri()).createOrReplaceTempView("previous_calls")
    fresh.createOrReplaceTempView("new_calls")
    same = " and ".join(f"c.`{c}` <=> t.`{c}`" for c in fresh.columns
                        if c not in ("call_key", "synced_at"))
    rows = spark.sql(
        "select c.provider, count_if(t.call_key is null), "
        f"count_if(t.call_key is not null and not ({same})) "
        "from new_calls c left join previous_calls t on c.call_key = t.call_key "
        "group by c.provider").collect()
    for provider, added, updated in rows:
        report.new[provider], report.updated[provider] = int(added), int(updated)
    return report


# ---------------------------------------------------------------------------------------
# reading the marts without Spark: DuckDB over the Parquet datasets


def parquet_files(folder: Path) -> str | None:
    """The glob of a dataset's Parquet files, or None when it has none."""
    if folder.is_dir() and any(folder.rglob("*.parquet")):
        return (folder / "**" / "*.parquet").as_posix()
    return None


@contextmanager
def marts_duckdb(engine: Spark, with_runs: bool = True,
                 database: str = ":memory:") -> Iterator[duckdb.DuckDBPyConnection]:
    """A DuckDB (in memory, or the file `database`) with a view per mart (and `sync_runs`)
    over its Parquet files: the warehouse's tables as DuckDB reads them, for summaries,
    `status` and `report`."""
    con = duckdb.connect(database)
    try:
        con.execute("set TimeZone = 'UTC'")
        if engine.marts.is_dir():
            for folder in sorted(engine.marts.iterdir()):
                if folder.name.startswith(".") or (folder.name == RUNS and not with_runs):
                    continue
                files = parquet_files(folder)
                if files is not None:
                    con.execute(f'create view main."{folder.name}" as select * from '
                                f"read_parquet('{_quote(files)}', union_by_name = true)")
        yield con
    finally:
        con.close()


def _quote(text: str) -> str:
    return text.replace("'", "''")


def read_unfinished(engine: Spark) -> dict[str, list[Any]]:
    """Per provider, the calls `calls_unfinished` lists (as `pipelines.follow`)."""
    from pipelines import follow

    with marts_duckdb(engine) as con:
        if not (transform.table_exists(con, "main", "calls_unfinished")
                and transform.table_exists(con, "main", "calls")):
            return {}
        return follow.unfinished_from(con)


# ---------------------------------------------------------------------------------------
# what `sync` and `transform` call


def build_after_sync(engine: Spark, result: SyncResult) -> None:
    """The model build of `callsync sync` on Spark: the marts, then each provider's figures
    (new and updated calls, this run's rejected and unknown) into `result`."""
    from pipelines import sync

    began = time.monotonic()
    try:
        with session(engine.master) as spark:
            done = build(spark, engine)
        for outcome in result.providers:
            outcome.new = done.report.new.get(outcome.slug, 0)
            outcome.updated = done.report.updated.get(outcome.slug, 0)
        with marts_duckdb(engine) as con:
            result.rejected, result.unknown = sync.quality(con, since=result.began_at)
    except Exception as exc:
        log.debug("the model build failed", exc_info=True)
        result.build_error = f"models not built: {failure(exc)}"
    result.build_seconds = time.monotonic() - began


def failure(exc: BaseException) -> str:
    """A Spark (or other) failure in one line: pyspark's errors carry the JVM's stack in
    their text; its first line names the error class and the cause."""
    from pipelines.errors import one_line

    text = str(exc).strip().splitlines()
    if type(exc).__module__.startswith(("pyspark", "py4j")) and text:
        return f"{type(exc).__name__}: {text[0][:300]} (run again with --debug for Spark's log)"
    return one_line(exc)


@contextmanager
def recorded(engine: Spark, result: SyncResult) -> Iterator[None]:
    """As `pipelines.runs.recorded`: after the build (also when it raised) append this run's
    `sync_runs` rows, here one Parquet file `<bucket>/marts/sync_runs/<run_id>.parquet`."""
    try:
        yield
    except Exception as exc:
        if result.build_error is None:
            result.build_error = f"building the models failed: {failure(exc)}"
        write_runs(engine, result)
        raise
    write_runs(engine, result)


def write_runs(engine: Spark, result: SyncResult) -> None:
    """Append this run's `sync_runs` rows (the columns and values DuckDB's table gets)."""
    from pipelines import runs

    folder = engine.marts / RUNS
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with marts_duckdb(engine, with_runs=False) as con:
            runs.record(con, result)
            target = folder / f"{result.run_id}.parquet"
            partial = folder / f".{result.run_id}.parquet.tmp"
            con.execute(f"copy {runs.TABLE} to '{_quote(str(partial))}' (format parquet)")
            partial.rename(target)  # readers glob *.parquet: never a half-written file
    except (duckdb.Error, OSError) as exc:
        log.error("failed: sync_runs not written: %s", str(exc).splitlines()[0])


def transform_all(engine: Spark) -> int:
    """`callsync transform` on Spark: every mart rebuilt from the raw Parquet tables."""
    engine.ready()
    began = time.monotonic()
    log.info("rebuilding the models on Spark (%s) from every raw row -> %s/",
             engine.master, engine.marts.as_uri())
    try:
        with session(engine.master) as spark:
            done = build(spark, engine)
    except Exception as exc:
        log.debug("the model build failed", exc_info=True)
        log.error("failed: models not built: %s", failure(exc))
        return 1
    with marts_duckdb(engine) as con:
        row = con.execute("select count(*) from calls").fetchone()
    log.info("models rebuilt in %.1f s: %d calls, %d tables -> %s/", time.monotonic() - began,
             row[0] if row else 0, len(done.marts), engine.marts.as_uri())
    return 0


def run_checks(engine: Spark) -> list[checks.CheckResult]:
    """`callsync check` on Spark: the rules over the `calls` mart into `call_checks`.

    Raises:
        UsageError: no `calls` mart yet.
    """
    engine.ready()
    calls = engine.marts / "calls"
    if parquet_files(calls) is None:
        raise UsageError(f"{engine.marts.as_uri()} has no calls yet: run `callsync sync` first")
    with session(engine.master) as spark:
        spark.read.parquet(calls.as_uri()).createOrReplaceTempView("calls")
        create_functions(spark)  # the rules may call the macros (staging_<name>)
        staging_dir = engine.marts / f".build-{uuid.uuid4().hex[:12]}"
        try:
            _write(spark, checks_sql(checks.rules()), staging_dir, CHECKS)
            _swap(engine.marts, staging_dir, [CHECKS])
        finally:
            shutil.rmtree(staging_dir, ignore_errors=True)
    with marts_duckdb(engine) as con:
        return checks.read(con)


def status(engine: Spark) -> list[Any]:
    """`callsync status` on Spark: `pipelines.status.read_from` over an in-memory DuckDB
    holding the marts, each raw table (`raw_<slug>.<table>`) and dlt's state from the
    bucket (`raw_<slug>._dlt_pipeline_state`, JSON lines), all read in place."""
    from pipelines import status as status_mod

    with marts_duckdb(engine) as con:
        for slug, provider in PROVIDERS.items():
            dataset = engine.bucket / f"raw_{slug}"
            con.execute(f'create schema if not exists "raw_{slug}"')
            for table in provider.settings.RAW_COLUMNS:
                files = parquet_files(dataset / table)
                if files is not None:
                    con.execute(f'create view "raw_{slug}"."{table}" as select * from '
                                f"read_parquet('{_quote(files)}', union_by_name = true)")
            state = dataset / "_dlt_pipeline_state"
            if state.is_dir() and any(state.glob("*.jsonl")):
                con.execute(f'create view "raw_{slug}"."_dlt_pipeline_state" as select * '
                            f"from read_json('{_quote((state / '*.jsonl').as_posix())}', "
                            "format = 'newline_delimited')")
        return status_mod.read_from(con)


def write_report(engine: Spark, out: Path | None, warehouse: Path) -> Path:
    """`callsync report` on Spark: the dashboard of the marts, read by DuckDB through a
    throw-away file of views over the Parquet datasets (default `out` as on DuckDB:
    `<warehouse name>-report.html` beside the warehouse path)."""
    from pipelines import report as report_mod

    with tempfile.TemporaryDirectory(prefix="callsync-report-") as tmp:
        views = Path(tmp) / "marts.duckdb"
        with marts_duckdb(engine, database=str(views)) as con:
            if not transform.table_exists(con, "main", "calls"):
                raise report_mod.ReportError(f"{engine.marts.as_uri()} has no calls yet: run "
                                             "`callsync sync` first")
        return report_mod.write(views, out or report_mod.default_out(warehouse))
