"""A page body's bytes to the raw Arrow table, in native code: one DuckDB statement.

A page of 1,000 calls is parsed, each record's id and cursor extracted per the contract's
rules, and each record re-written as its own JSON text, all inside an in-process DuckDB
(`:memory:`, one thread, a small memory cap) that runs without the interpreter lock: no
Python object is made per record. The few envelope fields a paginator needs (a next
token, a total) come out of the same statement as small JSON values, by key, never by
byte position.

Each provider describes its pages with a `PageShape`: where the record list is, which
envelope keys its paginator reads, and its id and cursor as SQL over a record `e` (JSON).
The timestamp rule is the warehouse's own `staging.ts` macro (`transforms/macros`), so
the cursor and staging cannot disagree.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from sources._http import ProviderError

TIMESTAMP = pa.timestamp("us", tz="UTC")
RAW_CALL_SCHEMA = pa.schema([
    ("call_id", pa.string()),
    ("started_at", TIMESTAMP),
    ("account_id", pa.string()),
    ("record", pa.string()),
    ("fetched_at", TIMESTAMP),
])
_MACROS = Path(__file__).resolve().parent.parent / "transforms" / "macros" / "normalize.sql"
# Pages are parsed in `PARSERS` threads shared by every walk, whatever the number of
# partitions and pages read ahead: a page of 1,000 calls takes ~10 MB of DuckDB memory
# while it is parsed, and each thread that ever ran a query keeps ~20 MB of allocator
# cache (measured: 6 parsing threads peaked 80 MiB above one); more would not run faster
# on 2 cores either.
PARSERS = 2
# Bodies of one endpoint waiting for a parser are parsed together, up to this many bytes
# (20 of Unpod's 100-call pages, 2 of SIPSIM's 1,000): planning the statement (~1.7 ms)
# is then paid once per batch, not per page. A query takes ~20x its bodies' bytes.
BATCH_BYTES = 1_000_000
MEMORY_LIMIT = "128MB"

_SETUP = """
set TimeZone = 'UTC';
create schema if not exists staging;
{macros}
-- a cursor text's usual case, a finite ISO timestamp but the epoch; null otherwise (the
-- warehouse's whole rule, `staging.ts`, then decides: it costs ~5x as much per value)
create or replace macro fast_ts(v) as
    case when isfinite(try_cast(v as timestamptz))
              and try_cast(v as timestamptz) <> timestamptz '1970-01-01 00:00:00+00'
        then try_cast(v as timestamptz) end;
"""


@dataclass(frozen=True)
class PageShape:
    """How one endpoint's pages look to the parser.

    Attributes:
        slug: The provider, for errors.
        where: The endpoint, for errors (`calls`, `RecentCalls`).
        records: Keys down to the record list (`("data",)`, `("data", "calls")`).
        fields: Record fields the id reads as text: each is `x.<field>` in `call_id` (a
            string as is, another value as its JSON text; null where absent, JSON null,
            or where the record is not an object).
        call_id: SQL over `x`: the contract's id as text, or null.
        cursors: The fields whose first readable timestamp is `started_at`, in order.
        envelope: Top-level keys the paginator reads; each present one comes back as its
            JSON value (a key present with null is there, as None; a missing key is not).
    """

    slug: str
    where: str
    records: tuple[str, ...]
    fields: tuple[str, ...]
    call_id: str
    cursors: tuple[str, ...] = ()
    envelope: tuple[str, ...] = ()
    typed: tuple[str, ...] = ()  # fields read as JSON instead, where the id rule asks the type
    sql: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        path = "$" + "".join(f".{_name(k)}" for k in self.records)
        keys = ", ".join(f"json_extract(b, {_quote('$.' + _name(k))})::varchar"
                         for k in self.envelope)
        # the fields of every record in one parse of the body (a record that is not an
        # object reads as all-null), beside each record's own JSON text, by position
        types = (dict.fromkeys((*self.fields, *self.cursors), "VARCHAR")
                 | dict.fromkeys(self.typed, "JSON"))
        structure: Any = [types or {"_": "JSON"}]
        for key in reversed(self.records):
            structure = {key: structure}
        access = "".join(f".{_ident(k)}" for k in self.records)
        # each cursor as the usual ISO text cast (`t<n>`), and its text (`v<n>`) for the
        # few values that cast misses: `read_page` applies the whole rule to those only
        cursors = "".join(f", t{n}: fast_ts(x.{_ident(f)}), v{n}: x.{_ident(f)}"
                          for n, f in enumerate(self.cursors))
        statement = f"""
            select n, kind, envelope,
                list_transform(coalesce(f, []), lambda x, i: {{
                    call_id: {self.call_id}, record: texts[i]{cursors}}}) as rows
            from (
                select n, kind, envelope, texts,
                    case when kind = 'ARRAY' then
                        from_json(b, {_quote(orjson.dumps(structure).decode())}){access}
                    end as f
                from (
                    select n, b, json_type(b, {_quote(path)}) as kind,
                        [{keys}]::varchar[] as envelope,
                        json_extract(b, {_quote(path + '[*]')})::varchar[] as texts
                    from unnest(?::varchar[]) with ordinality as bodies(b, n)))
            order by n"""
        object.__setattr__(self, "sql", statement)


@dataclass
class Page:
    """A page read: the raw table of its records and the envelope fields asked for."""

    table: pa.Table
    envelope: dict[str, Any]

    @property
    def size(self) -> int:
        return self.table.num_rows


class BodyNotJson(ValueError):
    """The body is not JSON (the HTTP layer retries it, as any unreadable body)."""


_local = threading.local()
_lock = threading.Lock()
_parsers = ThreadPoolExecutor(max_workers=PARSERS, thread_name_prefix="page-parser")
_waiting: dict[str, list[tuple[str, Future[pa.Table]]]] = {}  # statement -> bodies
_database: duckdb.DuckDBPyConnection | None = None


def _cursor() -> duckdb.DuckDBPyConnection:
    """This thread's connection to the one in-memory parsing database (made once)."""
    global _database
    cursor = getattr(_local, "cursor", None)
    if cursor is None:
        with _lock:
            if _database is None:
                database = duckdb.connect(":memory:", config={
                    "threads": 1, "memory_limit": MEMORY_LIMIT,
                    "preserve_insertion_order": False})
                database.execute(_SETUP.format(macros=_MACROS.read_text()))
                _database = database
            cursor = _database.cursor()
        cursor.execute("set TimeZone = 'UTC'")
        _local.cursor = cursor
    return cursor


def _parse(sql: str, text: str) -> pa.Table:
    """`sql` over one body, in a parser thread, batched with others waiting for it."""
    done: Future[pa.Table] = Future()
    with _lock:
        waiting = _waiting.setdefault(sql, [])
        waiting.append((text, done))
        first = len(waiting) == 1
    if first:  # the bodies that arrive before a parser takes this one join its batch
        _parsers.submit(_drain, sql)
    return done.result()


def _drain(sql: str) -> None:
    with _lock:
        waiting = _waiting.pop(sql, [])
        size, n = 0, 0
        while n < len(waiting) and (n == 0 or size + len(waiting[n][0]) <= BATCH_BYTES):
            size += len(waiting[n][0])
            n += 1
        batch, rest = waiting[:n], waiting[n:]
        if rest:
            _waiting[sql] = rest
    if rest:
        _parsers.submit(_drain, sql)
    try:
        _run(sql, batch)
    except BaseException as exc:  # whatever happens, no reader is left waiting
        for _, done in batch:
            if not done.done():
                done.set_exception(exc)
        raise


def _run(sql: str, batch: list[tuple[str, Future[pa.Table]]]) -> None:
    try:
        result = _cursor().execute(sql, [[text for text, _ in batch]]).to_arrow_table()
    except duckdb.Error as exc:
        if len(batch) == 1:
            batch[0][1].set_exception(exc)
            return
        for text, done in batch:  # one bad body fails alone
            try:
                done.set_result(_cursor().execute(sql, [[text]]).to_arrow_table())
            except duckdb.Error as single:
                done.set_exception(single)
        return
    for i, (_, done) in enumerate(batch):
        done.set_result(result.slice(i, 1))


def read_page(shape: PageShape, body: bytes | str, account_id: str | None) -> Page:
    """One page body as a raw table of `RAW_CALL_SCHEMA`: every record kept, none dropped.

    Args:
        shape: The endpoint's page shape.
        body: The response body as received.
        account_id: The partition (phone number, account) the page was read from.

    Raises:
        BodyNotJson: The body is not JSON.
        ProviderError: The body has no record list where `shape.records` says.
    """
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
    except UnicodeDecodeError:  # as orjson did: not JSON, so retried, never mangled
        raise BodyNotJson(f"{shape.where}: the body is not UTF-8") from None
    try:
        result = _parse(shape.sql, text)
    except (duckdb.InvalidInputException, duckdb.ConversionException):  # malformed JSON
        raise BodyNotJson(f"{shape.where}: the body is not JSON") from None
    kind = result.column("kind")[0].as_py()
    if kind != "ARRAY":
        found = "nothing" if kind is None else f"a JSON {kind.lower()}"
        raise ProviderError(shape.slug, f"{shape.where}: response has no "
                            f"{'.'.join(shape.records)} list (found {found})")
    envelope = {key: orjson.loads(value)
                for key, value in zip(shape.envelope, result.column("envelope")[0].as_py(),
                                      strict=True) if value is not None}
    rows = result.column("rows").combine_chunks().flatten()  # the list's struct values
    n = len(rows)
    fetched_at = pa.scalar(datetime.now(UTC), TIMESTAMP)
    table = pa.Table.from_arrays([
        rows.field("call_id"), _started_at(rows, len(shape.cursors)),
        pa.repeat(pa.scalar(account_id, pa.string()), n), rows.field("record"),
        pa.repeat(fetched_at, n),
    ], schema=RAW_CALL_SCHEMA)
    return Page(table, envelope)


def _started_at(rows: pa.StructArray, cursors: int) -> pa.Array:
    """The first readable cursor of each row: the fast cast, and `staging.ts` for the few
    texts it missed (epoch numbers, odd forms, the unreadable)."""
    started: pa.Array = pa.nulls(len(rows), TIMESTAMP)
    for n in range(cursors):
        fast = rows.field(f"t{n}").cast(TIMESTAMP)
        text = rows.field(f"v{n}")
        missed = pc.and_(fast.is_null(), text.is_valid())
        if pc.any(missed).as_py():
            odd = pc.filter(text, missed).to_pylist()  # a Python str per odd value only
            slow = _parsers.submit(_rule, odd).result()
            fast = pc.replace_with_mask(fast, missed, slow)
        started = pc.coalesce(started, fast)
    return started


def _rule(texts: list[str]) -> pa.Array:
    """The warehouse's timestamp rule (`staging.ts`) over `texts`, in order."""
    result = _cursor().execute("select list_transform(?::varchar[], lambda v: staging.ts(v))",
                               [texts]).fetchone()
    return pa.array(result[0] if result else [], TIMESTAMP)


def records_table(shape: PageShape, records: list[Any], account_id: str | None) -> pa.Table:
    """Records already in hand (a call fetched by id, live calls, tests) as the raw table
    of `shape`: the same statement reads them, as a page holding them."""
    body: Any = records
    for key in reversed(shape.records):
        body = {key: body}
    return read_page(shape, orjson.dumps(body), account_id).table


def parse_timestamps(values: list[Any]) -> pa.Array:
    """Values (as an API gives them) read as the cursor of a page's records is."""
    records = [{"t": value} for value in values]
    return records_table(_TIMES, records, None).column("started_at").combine_chunks()


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _name(key: str) -> str:
    """A key in a JSONPath, quoted."""
    return '"' + key.replace('"', '\\"') + '"'


def _ident(key: str) -> str:
    """A key as a SQL identifier (a struct field)."""
    return '"' + key.replace('"', '""') + '"'


_TIMES = PageShape("callsync", "timestamps", ("data",), (), "null", cursors=("t",))
