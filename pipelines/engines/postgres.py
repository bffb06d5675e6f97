"""PostgreSQL as the warehouse (`[callsync] destination = "postgres"`, contract section 6).

- Where: dlt's `destination.postgres.credentials` (`DESTINATION__POSTGRES__CREDENTIALS=
  postgresql://user:password@host:port/db`, or `[destination.postgres] credentials` in
  `.dlt/secrets.toml`). The password is only ever handed to libpq: `where()` names the
  database without it, and it is masked in every log line (`pipelines.redaction`).
- Raw tables: dlt's postgres destination, schemas `raw_<slug>`, dlt's state beside them
  (a lost working folder resumes from there).
- Models: `transforms/postgres/macros/` (functions in schema `staging`, the DuckDB macros'
  twins) and `transforms/postgres/staging/` (one view per DuckDB staging view); the marts
  and checks are DuckDB's own files, rendered by `pipelines.transform.render` and carried
  over by `pipelines.engines.transpile` (with `rewrite`: schema `main` is `public`, and
  the two DuckDB aggregates the marts and checks use are spelled in Postgres).
- The build is a full rebuild in ONE transaction (transforms/README.md says why):
  readers see the old tables or the new ones, never half.
- One writer: `pg_try_advisory_lock` on a session held for the whole sync.
- Errors a user can cause (no credentials, server not reachable, wrong password, no such
  database) are one line naming what to set, exit 2 (`ConfigError`).
"""

from __future__ import annotations

import logging
import threading
import time
import zlib
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dlt
import psycopg2
import psycopg2.extensions
import sqlglot
from dlt.destinations.impl.postgres.configuration import PostgresCredentials
from sqlglot import exp

from pipelines import follow, runs, transform
from pipelines.checks import COMMENTS as CHECK_COMMENTS
from pipelines.checks import CheckResult, checks_sql, rules
from pipelines.engines import transpile
from pipelines.failpoints import failpoint
from pipelines.lock import WarehouseBusy
from pipelines.memory import release_memory
from pipelines.progress import Progress
from pipelines.redaction import add_secrets
from pipelines.warehouse import DEFAULT_WAREHOUSE, resolve
from sources import PROVIDERS, all_raw_columns
from sources._follow import Unfinished
from sources._http import ConfigError, ProviderError

if TYPE_CHECKING:
    from pipelines.status import ProviderStatus
    from pipelines.sync import SyncResult

log = logging.getLogger("callsync.postgres")

ENGINE = "postgres"
FOLDER = transform.TRANSFORMS / "postgres"
SCHEMA = "public"  # the contract's tables; DuckDB's `main`
LOCK_KEY = zlib.crc32(b"callsync warehouse writer")  # one writer per database
ENV = "DESTINATION__POSTGRES__CREDENTIALS"
VIEWS = ("calls_gaps", "calls_rejected", "calls_unfinished")  # dropped and made again
CONNECT_SECONDS = 15


# ---------------------------------------------------------------------------- connection


def credentials() -> PostgresCredentials:
    """dlt's postgres credentials, resolved; their password joins the masked secrets.

    Raises:
        ConfigError: not configured, or not a postgresql:// URL / credentials table.
    """
    value: object = dlt.secrets.get("destination.postgres.credentials")
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ConfigError("callsync", f"destination postgres needs its credentials: set {ENV}"
                          "=postgresql://user:password@host:port/database (or [destination."
                          "postgres] credentials in .dlt/secrets.toml)")
    creds = PostgresCredentials()
    try:
        if isinstance(value, str):
            creds.parse_native_representation(value.strip())
        elif isinstance(value, Mapping):
            creds.update(dict(value))
        else:
            raise ValueError(type(value).__name__)
    except Exception:
        raise ConfigError("callsync", f"{ENV} is not a postgresql://user:password@host:port/"
                          "database URL") from None
    if creds.password:
        add_secrets([str(creds.password)])
    if not creds.host or not creds.database:
        raise ConfigError("callsync", f"{ENV} names no host or no database: write "
                          "postgresql://user:password@host:port/database")
    creds.connect_timeout = CONNECT_SECONDS
    return creds


def where(creds: PostgresCredentials) -> str:
    """The database, as logs and `status --json` name it: never the password."""
    user = f"{creds.username}@" if creds.username else ""
    return f"postgresql://{user}{creds.host}:{creds.port or 5432}/{creds.database}"


def connect(creds: PostgresCredentials) -> psycopg2.extensions.connection:
    """A connection in UTC.

    Raises:
        ConfigError: the server refuses, cannot be reached, the password is wrong or the
            database is missing: one line naming the database (never the password).
    """
    try:
        con = psycopg2.connect(creds.to_native_representation())
    except psycopg2.OperationalError as exc:
        raise ConfigError("callsync", unreachable(creds, exc)) from None
    with con.cursor() as cur:
        cur.execute("set timezone = 'UTC'")
    con.commit()
    return con


def unreachable(creds: PostgresCredentials, exc: BaseException) -> str:
    """Why a connection failed, in one line, with what to check."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    reason = next((line for line in lines if "FATAL" in line), lines[0] if lines else "")
    reason = reason.split("failed: ", 1)[-1].removeprefix("FATAL:").strip()
    if creds.password:
        reason = reason.replace(str(creds.password), "***")
    return (f"cannot connect to PostgreSQL at {where(creds)}: {reason} (check that the server "
            f"runs and {ENV} names the right host, port, user, password and database)")


def destination(creds: PostgresCredentials) -> Any:
    """dlt's postgres destination for the raw tables."""
    return dlt.destinations.postgres(credentials=creds)


def pipelines_dir(creds: PostgresCredentials) -> Path:
    """dlt's working folder for this database, beside the default DuckDB file (safe to
    delete: state is in the database); named after the server too, so that packages in
    flight for one server never load into another."""
    name = f"{creds.host}_{creds.port or 5432}_{creds.database}"
    name = "".join(c if c.isalnum() or c in "._-" else "_" for c in name)  # a socket path
    return resolve(DEFAULT_WAREHOUSE).parent / f".postgres_{name}.dlt"


class Session:
    """A psycopg2 connection that runs callsync's DuckDB SQL: each statement is carried to
    Postgres by `to_postgres` once and cached; `?` placeholders become `%s`."""

    def __init__(self, con: psycopg2.extensions.connection) -> None:
        self.con = con
        self.cursor = con.cursor()

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> Session:
        values = list(params) if params is not None else None
        if values and "information_schema" in sql:  # DuckDB's default schema is ours
            values = [SCHEMA if v == "main" else v for v in values]
        self.cursor.execute(to_postgres(sql, values is not None), values)
        return self

    def native(self, sql: str, params: Sequence[Any] | None = None) -> Session:
        """Run Postgres SQL as written (`%s` placeholders)."""
        self.cursor.execute(sql, list(params) if params is not None else None)
        return self

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.cursor.executemany(to_postgres(sql, True), rows)

    def fetchone(self) -> tuple[Any, ...] | None:
        return self.cursor.fetchone()  # type: ignore[no-any-return]

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self.cursor.fetchall()

    @property
    def description(self) -> Any:
        return self.cursor.description

    def exists(self, schema: str, table: str) -> bool:
        """Whether `schema.table` (a table or view) exists; `main` is `public`."""
        schema = SCHEMA if schema == "main" else schema
        self.native("select to_regclass(%s) is not null",
                    [f'"{schema}"."{table}"'])
        found = self.fetchone()
        return bool(found and found[0])

    def rollback(self) -> None:
        """End the transaction a build began; quietly on a lost connection (the server
        rolled it back) so that the build's own error is the one reported."""
        try:
            self.native("rollback")
        except psycopg2.Error:
            log.debug("rollback failed", exc_info=True)

    def close(self) -> None:
        self.cursor.close()
        self.con.close()


@contextmanager
def session(creds: PostgresCredentials) -> Iterator[Session]:
    """A `Session` in autocommit (each statement commits; `build` opens its own
    transaction), closed on exit."""
    con = connect(creds)
    con.autocommit = True
    found = Session(con)
    try:
        yield found
    finally:
        found.close()


@contextmanager
def writer_lock(creds: PostgresCredentials) -> Iterator[Session]:
    """Hold the database's writer lock (`pg_try_advisory_lock`) on one session for the
    whole block; another callsync holding it makes this raise at once.

    Raises:
        WarehouseBusy: another callsync writes this database (exit 2, as for DuckDB's).
    """
    with session(creds) as held:
        held.native("select pg_try_advisory_lock(%s)", [LOCK_KEY])
        got = held.fetchone()
        if not (got and got[0]):
            held.native("select pid from pg_locks where locktype = 'advisory' and objid = %s "
                        "and granted limit 1", [LOCK_KEY])
            holder = held.fetchone()
            raise WarehouseBusy("callsync", f"another callsync is writing {where(creds)} "
                                f"(backend pid {holder[0] if holder else 'unknown'}); wait "
                                "for it to finish, then run again")
        try:
            yield held
        finally:
            try:
                held.native("select pg_advisory_unlock(%s)", [LOCK_KEY])
            except psycopg2.Error:  # a lost connection: the lock went with its session
                log.debug("advisory unlock failed", exc_info=True)


# ---------------------------------------------------------------------------- SQL


def _rewrite(node: exp.Expression) -> exp.Expression:
    """DuckDB constructs of the marts, checks and panels that sqlglot spells wrongly for
    Postgres (or not at all), rewritten on the parsed tree; schema `main` is `public`."""
    if isinstance(node, (exp.Table, exp.Column)) and node.args.get("db") \
            and node.text("db") == "main":
        node.set("db", exp.to_identifier(SCHEMA))
        return node
    if isinstance(node, exp.Filter) and isinstance(node.this, exp.Min) \
            and node.this.expressions:
        # DuckDB's min(x, n): the n smallest values, as a list
        column, count = node.this.this.sql("postgres"), node.this.expressions[0].sql("postgres")
        condition = node.expression.this.sql("postgres")
        return sqlglot.parse_one(f"(array_agg({column} order by {column}) filter (where "
                                 f"{condition}))[1:{count}]", read="postgres")
    if isinstance(node, exp.ArgMax):
        # DuckDB's arg_max(value, key): the value of the row with the greatest key
        value, key = node.this.sql("postgres"), node.expression.sql("postgres")
        return sqlglot.parse_one(f"(array_agg({value} order by {key} desc nulls last))[1]",
                                 read="postgres")
    return node


PLACEHOLDER = "callsync_placeholder__"


def _bind(node: exp.Expression) -> exp.Expression:
    """`_rewrite`, and each `?` as a marker that `to_postgres` turns into `%s`."""
    if isinstance(node, exp.Placeholder):
        return exp.var(PLACEHOLDER)
    return _rewrite(node)


@lru_cache(maxsize=256)
def to_postgres(sql: str, params: bool = False) -> str:
    """DuckDB `sql` (one statement) as Postgres runs it (cached: statements repeat).

    With `params`, `?` placeholders become psycopg2's `%s` and every other `%` is doubled
    (psycopg2 formats a statement with parameters: `like 'x%'` must read `'x%%'`).
    """
    if not params:
        return transpile(sql, ENGINE, rewrite=_rewrite)
    written = transpile(sql, ENGINE, rewrite=_bind)
    return written.replace("%", "%%").replace(PLACEHOLDER, "%s")


def models(folder: str) -> list[Path]:
    """`transforms/postgres/<folder>/*.sql` in build order (staging: the views over raw
    tables first, then those reading other staging views)."""
    paths = sorted((FOLDER / folder).glob("*.sql"))
    return sorted(paths, key=lambda p: (bool(transform.staging_inputs(p.read_text())),
                                         p.stem))


def _context(con: Session, **bound: str) -> transform.Context:
    # Postgres wants an alias on every subquery in FROM
    previous = f"{transform.NO_PREVIOUS} as previous_calls"
    return transform.Context(None, all_raw_columns(), exists=con.exists, bound={
        "calls": f"{SCHEMA}.calls", "previous_calls": previous, **bound})


# ---------------------------------------------------------------------------- build


def build(con: Session, incremental: bool = False) -> transform.BuildReport:
    """Build every model in one transaction, then the checks into `call_checks`.

    With `incremental` (a sync), as on DuckDB: `calls` decides again only the calls named
    by raw rows fetched after their provider's newest `synced_at`, and `calls_daily`
    replaces only the days holding a changed call; without it (`callsync transform`, the
    first build) every model is rebuilt from every raw row.

    Args:
        con: A session in autocommit (the lock's); the build begins and commits itself.
        incremental: Build `calls` and `calls_daily` from the new raw rows only.
    """
    report = transform.BuildReport()
    began = time.monotonic()
    con.native("begin")
    try:
        for view in VIEWS:  # they read staging views and `calls`: made again below
            con.native(f'drop view if exists {SCHEMA}."{view}"')
        con.native("drop schema if exists staging cascade")
        con.native("create schema staging")
        for path in models("macros"):
            con.native(path.read_text())
        ctx = _context(con)
        for path in models("staging"):
            con.native(f'create view staging."{path.stem}" as '
                       f"{transform.render(path.read_text(), ctx)}")
        check_calls_staging(con)
        days = False
        for path in transform.models("marts"):
            text = path.read_text()
            kind = transform.materialized(text)
            if kind == "view":
                sql = to_postgres(transform.render(text, ctx))
                con.native(f'create view {SCHEMA}."{path.stem}" as {sql}')
            elif kind == "incremental" and incremental and con.exists(SCHEMA, path.stem):
                days = _build_calls(con, path.stem, text, report)
            elif kind == "daily" and days and con.exists(SCHEMA, path.stem):
                _build_days(con, path.stem, text)
            else:
                sql = to_postgres(transform.render(text, ctx))
                _replace_table(con, path.stem, sql, report)
        con.native(transform.COMMENTS.read_text())  # a new table has no comments yet
        failpoint("during_build")
        con.native("commit")
    except BaseException:
        con.rollback()
        raise
    run_checks(con)
    report.seconds = time.monotonic() - began
    return report


def _build_calls(con: Session, name: str, sql: str, report: transform.BuildReport) -> bool:
    """Replace the rows of `name` (`calls`) whose call has raw rows newer than its
    provider's mark, as `calls_build.build` does on DuckDB.

    Returns:
        True: temp table `_days` holds the UTC days of every changed call.
    """
    marks = dict(con.native(f'select provider, max(synced_at) from {SCHEMA}."{name}" '
                            "group by 1").fetchall())

    def new_rows(schema: str, table: str) -> str:
        mark = marks.get(schema.removeprefix("raw_"))
        if mark is None:  # no mark: every row is new
            return f'"{schema}"."{table}"'
        return (f'(select * from "{schema}"."{table}" where fetched_at > '
                f'{transform.instant(mark)}) as "{table}"')

    staged = transform.render(f"{{{{ staging.{transform.CALLS_STAGING} }}}}", transform.Context(
        None, all_raw_columns(), new_rows=new_rows, exists=con.exists,
        staging="postgres/staging"))
    con.native(f"create temp table _staged_new on commit drop as select * from {staged}")
    con.native(f'create temp table _old on commit drop as select * from {SCHEMA}."{name}" '
               "where call_key in (select call_key from _staged_new "
               "where reject_reason is null)")
    scoped = to_postgres(transform.render(sql, _context(con, **{
        f"staging.{transform.CALLS_STAGING}": "_staged_new",
        "previous_calls": "(select * from _old) as previous_calls"})))
    con.native(f'create temp table "_new_{name}" on commit drop as {scoped}')
    con.native("create temp table _days on commit drop as select distinct "
               "(started_at at time zone 'UTC')::date as day from ("
               f'select started_at from "_new_{name}" union all select started_at from _old'
               ") as changed")
    _count_changes(con, report, old="_old")
    con.native(f'delete from {SCHEMA}."{name}" where call_key in (select call_key from _old)')
    con.native(f'insert into {SCHEMA}."{name}" select {_text_columns(con, name)} '
               f'from "_new_{name}"')
    return True


def _build_days(con: Session, name: str, sql: str) -> None:
    """Replace only the days of `name` (`calls_daily`) that hold a changed call."""
    days = (f"(select * from {SCHEMA}.calls where (started_at at time zone 'UTC')::date "
            "in (select day from _days)) as calls")
    scoped = to_postgres(transform.render(sql, _context(con, calls=days)))
    con.native(f'delete from {SCHEMA}."{name}" where day in (select day from _days)')
    con.native(f'create temp table "_new_{name}" on commit drop as {scoped}')
    con.native(f'insert into {SCHEMA}."{name}" select {_text_columns(con, name)} '
               f'from "_new_{name}"')


def _text_columns(con: Session, name: str) -> str:
    """The select list of temp table `_new_<name>`, its varchar columns as text (the
    contract's VARCHAR is text; dlt's raw columns are varchar)."""
    con.native("select attname, format_type(atttypid, atttypmod) from pg_attribute "
               "where attrelid = %s::regclass and attnum > 0 and not attisdropped "
               "order by attnum", [f'"_new_{name}"'])
    return ", ".join(f'"{c}"::text as "{c}"' if kind.startswith("character varying")
                     else f'"{c}"' for c, kind in con.fetchall())


def _replace_table(con: Session, name: str, sql: str, report: transform.BuildReport) -> None:
    """Replace the rows of table `name` with `sql`'s (the table keeps its identity, grants
    and the views users built on it); `calls` also counts new and changed calls."""
    con.native(f'create temp table "_new_{name}" on commit drop as {sql}')
    target = f'{SCHEMA}."{name}"'
    columns = _text_columns(con, name)
    order = " order by started_at" if name == "calls" else ""
    if not con.exists(SCHEMA, name):
        con.native(f'create table {target} as select {columns} from "_new_{name}"{order}')
        if name == "calls":  # the incremental build finds a call's current row by key
            con.native(f"alter table {target} add primary key (call_key)")
        if name == "calls":
            for provider, new in con.native(
                    f"select provider, count(*) from {target} group by 1").fetchall():
                report.new[provider], report.updated[provider] = int(new), 0
        return
    if name == "calls":
        _count_changes(con, report)
    con.native(f"truncate {target}")
    con.native(f'insert into {target} select {columns} from "_new_{name}"{order}')


def _count_changes(con: Session, report: transform.BuildReport,
                   old: str = f"{SCHEMA}.calls") -> None:
    """New and updated calls per provider: the new rows against the current ones."""
    con.native("select column_name from information_schema.columns where table_schema = %s "
               "and table_name = 'calls' and column_name not in ('call_key', 'synced_at') "
               "order by ordinal_position", [SCHEMA])
    columns = [row[0] for row in con.fetchall()]
    left = ", ".join(f'c."{c}"' for c in columns)
    right = ", ".join(f't."{c}"' for c in columns)
    rows = con.native(
        "select c.provider, count(*) filter (where t.call_key is null), "
        "count(*) filter (where t.call_key is not null and "
        f"row({left}) is distinct from row({right})) "
        f'from "_new_calls" c left join {old} t using (call_key) group by 1'
    ).fetchall()
    for provider, new, updated in rows:
        report.new[provider] = int(new)
        report.updated[provider] = int(updated)


def check_calls_staging(con: Session) -> None:
    """Fail the build unless every staging view `stg_calls` unions has the same columns,
    names and types in the same order (as `transform.check_calls_staging` on DuckDB).

    Raises:
        transform.TemplateError: naming the view and its first differing column.
    """
    views = transform.staging_inputs((FOLDER / "staging" / "stg_calls.sql").read_text())
    shapes = {}
    for view in views:
        con.native("select column_name, data_type from information_schema.columns "
                   "where table_schema = 'staging' and table_name = %s "
                   "order by ordinal_position", [view])
        # a raw column (dlt's varchar) and a text literal are the same to a union
        shapes[view] = [(c, "text" if t == "character varying" else t)
                        for c, t in con.fetchall()]
    first = views[0]
    for view in views[1:]:
        if shapes[view] != shapes[first]:
            diff = next((f"{a} vs {b}" for a, b in zip(shapes[first], shapes[view],
                                                       strict=False) if a != b),
                        f"{len(shapes[first])} vs {len(shapes[view])} columns")
            raise transform.TemplateError(f"staging.{view} does not have the columns of "
                                          f"staging.{first} (in order): {diff}")


def run_checks(con: Session) -> list[CheckResult]:
    """Evaluate every rule over `calls` into `call_checks` (as `pipelines.checks.run`)."""
    sql = to_postgres(checks_sql(rules()))
    con.native("begin")
    try:
        con.native(f"drop table if exists {SCHEMA}.call_checks")
        con.native(f"create table {SCHEMA}.call_checks as {sql}")
        con.native(CHECK_COMMENTS.read_text())
        con.native("commit")
    except BaseException:
        con.rollback()
        raise
    return read_checks(con)


def read_checks(con: Session) -> list[CheckResult]:
    """The rows of `call_checks`, ordered by rule and provider."""
    con.native("select rule, provider, severity, failing_rows, total_rows, sample_keys, "
               f"checked_at from {SCHEMA}.call_checks order by rule, provider")
    return [CheckResult(*row) for row in con.fetchall()]


def quality(con: Session, since: datetime) -> tuple[dict[str, int], dict[str, int]]:
    """Per provider: this run's `calls_rejected` rows and `calls` rows with `unknown`."""
    rejected = dict(con.execute(
        "select provider, count(*) from calls_rejected where loaded_at >= ? group by 1",
        [since]).fetchall())
    unknown = dict(con.execute(
        "select provider, count(*) from calls where synced_at >= ? "
        "and (status = 'unknown' or direction = 'unknown') group by 1", [since]).fetchall())
    return rejected, unknown


# ---------------------------------------------------------------------------- sync


def read_unfinished(con: Session) -> dict[str, list[Unfinished]]:
    """Per provider, the calls `calls_unfinished` lists (none before the first build)."""
    if not con.exists(SCHEMA, "calls_unfinished"):
        return {}
    return follow.unfinished_from(con)


def record_runs(con: Session, result: SyncResult) -> None:
    """Append this run's `sync_runs` rows (`pipelines.runs`, its DuckDB SQL carried over)."""
    try:
        runs.record(con, result)  # type: ignore[arg-type]
    except psycopg2.Error as exc:
        log.error("failed: sync_runs not written: %s", str(exc).splitlines()[0])


def run(
    names: Sequence[str] = (),
    start: datetime | None = None,
    end: datetime | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> SyncResult:
    """`callsync sync` on Postgres: `pipelines.sync.run`'s steps, with the raw tables in
    `raw_<slug>` through dlt's postgres destination, the advisory lock and this build.

    Returns:
        The `pipelines.sync.SyncResult`.
    """
    from pipelines import sync

    overrides = overrides or {}
    chosen = sync.select(names, overrides)
    creds = credentials()  # before any request
    result = sync.SyncResult(window=(start, end) if start or end else None)
    sources = {}
    for provider in chosen:
        outcome = sync.ProviderResult(provider.slug)
        result.providers.append(outcome)
        try:
            sources[provider.slug] = sync._make_source(provider, overrides, start, end)
        except ProviderError as exc:
            outcome.error = str(exc)
    if not sources:
        raise sync.Refused([o.error or o.slug for o in result.providers])
    with writer_lock(creds) as held:
        unfinished = read_unfinished(held) if start is None and end is None else {}
        for slug in sources:
            if unfinished.get(slug):
                sources[slug] = sync._make_source(PROVIDERS[slug], overrides, start, end,
                                                  unfinished[slug])
        started = [o for o in result.providers if o.slug in sources]
        target = (destination(creds), pipelines_dir(creds))
        database = threading.Lock()
        meters = {o.slug: sources[o.slug][1] for o in started}
        with Progress(meters), ThreadPoolExecutor(max_workers=max(1, len(started))) as pool:
            list(pool.map(lambda o: sync._sync_one(Path(), sources[o.slug], o, database,
                                                   target), started))
        release_memory()
        began = time.monotonic()
        try:
            report = build(held, incremental=True)
            for outcome in result.providers:
                outcome.new = report.new.get(outcome.slug, 0)
                outcome.updated = report.updated.get(outcome.slug, 0)
            result.rejected, result.unknown = quality(held, result.began_at)
        except (psycopg2.Error, transform.TemplateError) as exc:
            log.debug("the model build failed", exc_info=True)
            result.build_error = f"models not built: {sync._one_line(exc)}"
        finally:
            result.build_seconds = time.monotonic() - began
            record_runs(held, result)
    return result


def transform_all() -> tuple[int, str]:
    """`callsync transform` on Postgres: rebuild under the writer lock; (calls, where)."""
    creds = credentials()
    with writer_lock(creds) as held:
        log.info("rebuilding the models from every raw row -> %s", where(creds))
        build(held)
        found = held.execute("select count(*) from calls").fetchone()
    return (int(found[0]) if found else 0), where(creds)


def check() -> tuple[list[CheckResult] | None, str]:
    """`callsync check` on Postgres: the checks under the writer lock (None: no calls)."""
    creds = credentials()
    with writer_lock(creds) as held:
        if not held.exists(SCHEMA, "calls"):
            return None, where(creds)
        return run_checks(held), where(creds)


def status() -> tuple[list[ProviderStatus], str]:
    """`callsync status` on Postgres: every provider's status (read with the DuckDB SQL
    of `pipelines.status`), and the database's name."""
    from pipelines import status as status_mod

    creds = credentials()
    with session(creds) as con:
        return status_mod.read_from(con), where(creds)  # type: ignore[arg-type]


@contextmanager
def report_source() -> Iterator[tuple[str, Session]]:
    """What `callsync report` reads on Postgres: the database's name and a session (the
    panels' DuckDB SQL is carried over by `to_postgres`; Postgres serves readers while a
    sync writes, so there is no readers' copy to prefer).

    Raises:
        ConfigError: no credentials, or the database cannot be reached.
    """
    creds = credentials()
    with session(creds) as con:
        yield where(creds), con


def report_path() -> Path:
    """A stand-in for the warehouse file in the report's defaults: `data/<database>`, so
    the dashboard is `data/<database>-report.html` and titled after the database."""
    return resolve(DEFAULT_WAREHOUSE).parent / str(credentials().database)
