"""The SQL runner: `transforms/macros` -> `staging` (views) -> `marts` (tables), in order,
then `transforms/comments.sql` (what each contract table and column holds).

SQL files are plain DuckDB SQL; the runner changes nothing in them but the named
variables `{{ ... }}` that `transforms/README.md` lists (`VARIABLES` below):

- `{{ raw_<slug>.<table> }}`: a raw table; where it does not exist yet (a provider never
  synced), an empty relation of its declared columns, so every model builds on any
  warehouse. In the incremental build of `calls`, only the raw rows fetched after the
  provider's mark (`staging.calls_marks`: the newest fetch the last build read).
- `{{ staging.<view> }}`: a staging view; in the incremental build of `calls`, the view's
  own SQL over those new raw rows (so `stg_calls` reads the new rows of each provider).
- `{{ previous_calls }}` (`calls.sql`): the current `calls` rows of the calls the new raw
  rows name (they won over every older raw row); none in a full build.
- `{{ calls }}` (`calls_daily.sql`): `main.calls`; after an incremental build, only the
  rows of the UTC days that hold a changed call.
- `{{ base_url.<slug> }}`: the provider's configured API root as a SQL string (relative
  recording paths are resolved against it).

The only values formatted into SQL are instants the warehouse itself returned (`instant`:
constants, so that zone maps prune) and the configured API roots, quoted as SQL strings;
every other substitution is an identifier or SQL text from this project's files.
"""

from __future__ import annotations

import importlib
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import dlt
import duckdb

from pipelines import checks
from pipelines.failpoints import failpoint

log = logging.getLogger("callsync.transform")

TRANSFORMS = Path(__file__).resolve().parent.parent / "transforms"
VARIABLE = re.compile(r"\{\{\s*(\w+)(?:\.(\w+))?\s*\}\}")
VARIABLES = ("raw_<slug>.<table>", "staging.<view>", "previous_calls", "calls",
             "base_url.<slug>")
CALLS_STAGING = "stg_calls"  # the one union of the staging views of calls
FIRST_MARTS = ("calls",)  # built before the marts that read them
COMMENTS = TRANSFORMS / "comments.sql"  # `comment on` every contract table and column
# no previous rows: an empty relation with the columns of `calls` (`stg_calls` starts
# with them, in the contract's order), which `calls.sql` names one by one
NO_PREVIOUS = f'(select * from staging."{CALLS_STAGING}" where false)'
MATERIALIZED = re.compile(r"^-- materialized: (\w+)", re.MULTILINE)


@dataclass
class BuildReport:
    """What a build changed in `calls`, per provider."""

    new: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass
class Context:
    """What the variables of one rendering stand for.

    Attributes:
        con: The warehouse (raw tables that do not exist get an empty stand-in).
        raw_columns: The declared columns of every raw table, `raw_<slug>.<table>` -> SQL.
        bound: Variables given a relation outright (`previous_calls`, `calls`, ...).
        new_rows: In the incremental build, each raw table's relation of new rows
            (`raw_<slug>.<table>` -> SQL); staging views are then inlined over them.
        exists: Whether a raw table exists, `(schema, table)`; another engine's answer
            (with `con` None); default: asked of `con`.
        staging: The folder of `transforms/` whose staging views `new_rows` inlines
            (another engine's: `postgres/staging`).
    """

    con: duckdb.DuckDBPyConnection | None
    raw_columns: Mapping[str, str]
    bound: Mapping[str, str] = field(default_factory=dict)
    new_rows: Callable[[str, str], str] | None = None
    exists: Callable[[str, str], bool] | None = None
    staging: str = "staging"


class TemplateError(ValueError):
    """A model names a variable the runner does not define."""


def materialized(sql: str) -> str:
    """`table` unless the model's header says `view`, `incremental` or `daily`."""
    found = MATERIALIZED.search(sql)
    return found.group(1) if found else "table"


def model_sql(folder: str, name: str) -> str:
    """The text of `transforms/<folder>/<name>.sql`."""
    return (TRANSFORMS / folder / f"{name}.sql").read_text()


def staging_inputs(sql: str) -> list[str]:
    """The staging views a model reads through `{{ staging.<view> }}`, in order."""
    return [m.group(2) for m in VARIABLE.finditer(sql)
            if m.group(1) == "staging" and m.group(2)]


def render(sql: str, ctx: Context) -> str:
    """`sql` with each `{{ variable }}` replaced by what `ctx` says it stands for.

    Raises:
        TemplateError: a variable the runner does not define (see `VARIABLES`).
        KeyError: a missing raw table without declared columns.
    """

    def replace(match: re.Match[str]) -> str:
        head, name = match.group(1), match.group(2)
        key = f"{head}.{name}" if name else head
        if key in ctx.bound:
            return ctx.bound[key]
        if head.startswith("raw_") and name:
            return _raw_relation(ctx, head, name)
        if head == "staging" and name:
            if ctx.new_rows is None:
                return f'staging."{name}"'
            # the alias: Postgres wants one on every subquery in FROM
            return f'({render(model_sql(ctx.staging, name), ctx)}) as "{name}"'
        if head == "base_url" and name:
            return sql_string(base_url(name))
        if key == "previous_calls":
            return NO_PREVIOUS
        if key == "calls":
            return "main.calls"
        raise TemplateError(f"unknown variable {{{{ {key} }}}} (defined: "
                            + ", ".join(VARIABLES) + ")")

    return VARIABLE.sub(replace, sql)


def _raw_relation(ctx: Context, schema: str, table: str) -> str:
    if ctx.exists is not None:
        found = ctx.exists(schema, table)
    else:
        assert ctx.con is not None, "a Context needs a connection or `exists`"
        found = table_exists(ctx.con, schema, table)
    if not found:
        columns = ctx.raw_columns.get(f"{schema}.{table}")
        if columns is None:
            raise KeyError(f"no declared columns for missing raw table {schema}.{table}")
        return f'(select {columns} where false) as "{table}"'  # Postgres needs the alias
    if ctx.new_rows is not None:
        return ctx.new_rows(schema, table)
    return f'"{schema}"."{table}"'


def base_url(slug: str) -> str | None:
    """The API root `[sources.<slug>] base_url` configures, else the source's default."""
    configured: object = dlt.config.get(f"sources.{slug}.base_url")
    if isinstance(configured, str) and configured.strip():
        return configured.strip()
    try:
        settings = importlib.import_module(f"sources.{slug}.settings")
    except ImportError:
        return None
    default = getattr(settings, "DEFAULT_BASE_URL", None)
    return default if isinstance(default, str) else None


def sql_string(value: str | None) -> str:
    """`value` as a SQL string literal (or `null`)."""
    if value is None:
        return "cast(null as varchar)"
    return "'" + value.replace("'", "''") + "'"


def models(folder: str) -> list[Path]:
    """The models of a folder in build order.

    Staging: the views over one raw table first, then those reading other staging views
    (`stg_calls`). Marts: `FIRST_MARTS` first, then by name.
    """
    paths = sorted((TRANSFORMS / folder).glob("*.sql"))
    if folder == "staging":
        return sorted(paths, key=lambda p: (bool(staging_inputs(p.read_text())), p.stem))
    if folder == "marts":
        first = [p for name in FIRST_MARTS for p in paths if p.stem == name]
        paths = first + [p for p in paths if p not in first]
    return paths


def build(
    con: duckdb.DuckDBPyConnection,
    raw_columns: Mapping[str, str],
    incremental: bool = False,
) -> BuildReport:
    """Build every model; with `incremental`, `calls` only for keys with new raw rows.

    Then the data-quality rules run over `calls` into `call_checks` (`pipelines.checks`).
    An incremental build runs under DuckDB's working cap, and again under the ceiling if
    it ran out of memory there (`pipelines.memory.roomier`); a full rebuild (`callsync
    transform`) runs under the ceiling at once: at 10M calls it cannot fit the working cap,
    and a failed first attempt cost 250 s.
    """
    from pipelines.memory import roomier, under_ceiling

    if incremental:
        return roomier(con, lambda: _build(con, raw_columns, incremental))
    with under_ceiling(con):
        return _build(con, raw_columns, incremental)


def _build(
    con: duckdb.DuckDBPyConnection, raw_columns: Mapping[str, str], incremental: bool,
) -> BuildReport:
    from pipelines import calls_build  # it renders with this module's `render`

    con.execute("set TimeZone = 'UTC'")
    con.execute("create schema if not exists staging")
    report = BuildReport()
    ctx = Context(con, raw_columns)
    for path in models("macros"):
        con.execute(path.read_text())
    for path in models("staging"):
        sql = render(path.read_text(), ctx)
        con.execute(f'create or replace view staging."{path.stem}" as {sql}')
    check_calls_staging(con)
    con.execute("begin transaction")  # the marts change together, or not at all
    try:
        days = False
        for path in models("marts"):
            sql = path.read_text()
            kind = materialized(sql)
            if kind == "view":
                con.execute(f'create or replace view main."{path.stem}" as '
                            f"{render(sql, ctx)}")
            elif kind == "incremental":
                days = calls_build.build(con, path.stem, sql, report, incremental, ctx)
            elif kind == "daily" and days and _table_exists(con, path.stem):
                _build_days(con, path.stem, sql, ctx)
            else:
                con.execute(f'create or replace table main."{path.stem}" as '
                            f"{render(sql, ctx)}")
        con.execute(COMMENTS.read_text())  # a rebuilt table has lost its comments
        failpoint("during_build")
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    checks.run(con)  # `call_checks` describes the calls just built
    return report


def check_calls_staging(con: duckdb.DuckDBPyConnection) -> None:
    """Fail the build unless every staging view `stg_calls` unions has the same columns,
    names and types in the same order (`union all` pairs columns by position).

    Raises:
        TemplateError: naming the view and its first differing column.
    """
    views = staging_inputs(model_sql("staging", CALLS_STAGING))
    shapes = {view: con.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = 'staging' and table_name = ? order by ordinal_position",
        [view]).fetchall() for view in views}
    check_union_shapes(views, shapes)


def check_union_shapes(views: list[str], shapes: Mapping[str, Sequence[object]]) -> None:
    """Fail unless each of `views` has the (name, type) columns of the first, in order
    (`shapes`: view -> its columns as the engine describes them).

    Raises:
        TemplateError: naming the view and its first differing column.
    """
    first = views[0]
    for view in views[1:]:
        if shapes[view] != shapes[first]:
            diff = next((f"{a} vs {b}" for a, b in zip(shapes[first], shapes[view],
                                                       strict=False) if a != b),
                        f"{len(shapes[first])} vs {len(shapes[view])} columns")
            raise TemplateError(f"staging.{view} does not have the columns of "
                                f"staging.{first} (in order): {diff}")


def _build_days(con: duckdb.DuckDBPyConnection, name: str, sql: str, ctx: Context) -> None:
    """Rebuild only the days of `name` that hold a changed call (`_days`).

    `calls` is kept in `started_at` order, so the constant bounds of the days let DuckDB's
    zone maps skip every row group outside them instead of reading the whole table.
    """
    found = con.execute("select min(day), max(day) from _days").fetchone()
    if not found or found[0] is None:
        return
    low, high = (datetime.combine(day, time(), UTC) for day in (found[0], found[1]))
    days = ("(select * from main.calls "
            f"where started_at >= {instant(low)} "
            f"and started_at < {instant(high + timedelta(days=1))} "
            "and cast(timezone('UTC', started_at) as date) in (select day from _days))")
    scoped = render(sql, Context(ctx.con, ctx.raw_columns, {"calls": days}))
    con.execute(f'delete from main."{name}" where day in (select day from _days)')
    con.execute(f'insert into main."{name}" by name select * from ({scoped})')


def instant(value: datetime) -> str:
    """A timestamp the warehouse returned, as a SQL constant (exact to the microsecond)."""
    return f"timestamptz '{value.isoformat()}'"


def table_exists(
    con: duckdb.DuckDBPyConnection, schema: str, table: str, base_table: bool = False
) -> bool:
    """Whether `schema.table` exists (with `base_table`, as a table, not a view)."""
    found = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? "
        "and table_name = ? and (not ? or table_type = 'BASE TABLE')",
        [schema, table, base_table]).fetchone()
    return bool(found and found[0])


def _table_exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return table_exists(con, "main", name, base_table=True)
