"""A page body's bytes to the raw Arrow table, in native code: one DuckDB statement.

A page of 1,000 calls is parsed once into its records' JSON texts and the envelope keys
a paginator reads (a next token, a total: by key, never by byte position); each record is
then read once more for the fields of its id and cursor, per the contract's rules. All of
it runs inside an in-process DuckDB (`:memory:`, one thread, a small memory cap), without
the interpreter lock: no Python object is made per record, and the body goes in as bytes
(DuckDB checks it is UTF-8).

Each provider describes its pages with a `PageShape`: where the record list is, which
envelope keys its paginator reads, and its id as SQL over a record's fields `x`.
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
# (~4 of SIPSIM's 470 KB pages): planning the statement (~2 ms, as much as parsing a page)
# is then paid once per batch (measured: 5.3 ms a SIPSIM page alone, 2.9 ms in four, 2.2
# in eight; 4 MB batches held ~30-50 MiB more while four providers were read at once).
BATCH_BYTES = 2_000_000
MEMORY_LIMIT = "128MB"

_SETUP = """
set TimeZone = 'UTC';
create schema if not exists staging;
{macros}
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
    head_sql: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        path = "$" + "".join(f".{_name(k)}" for k in self.records)
        # The body is parsed once (`from_json`): the record list as each record's JSON
        # text, and the envelope keys; then each record once more, small, for its fields.
        body: Any = "JSON[]"
        for key in reversed(self.records):
            body = {key: body}
        clash = self.records[0] in self.envelope
        body |= {} if clash else dict.fromkeys(self.envelope, "JSON")
        access = "".join(f".{_ident(k)}" for k in self.records)
        # from_json reads a key present with null as NULL, as it reads a missing one: the
        # envelope tells them apart by path (a second parse, for that key's nulls only)
        keys = ", ".join(
            f"json_extract(b, {_quote('$.' + _name(k))})::varchar" if clash else
            f"coalesce(s.{_ident(k)}::varchar, "
            f"case when s.{_ident(k)} is null then json_extract(b, {_quote('$.' + _name(k))})"
            f"::varchar end)" for k in self.envelope)
        types = (dict.fromkeys((*self.fields, *self.cursors), "VARCHAR")
                 | dict.fromkeys(self.typed, "JSON")) or {"_": "JSON"}
        # each cursor as the usual ISO text cast (`c<n>`, `t<n>` where finite and not the
        # epoch) beside its text (`v<n>`): the whole rule is for the few texts it misses
        casts = "".join(f", try_cast(x.{_ident(f)} as timestamptz) as c{n}, x.{_ident(f)} as v{n}"
                        for n, f in enumerate(self.cursors))
        fast = [f"case when isfinite(c{n}) and c{n} <> timestamptz '1970-01-01 00:00:00+00'"
                f" then c{n} end" for n in range(len(self.cursors))]
        # `started_at` is the first fast cast where every text before it was cast too
        # (`settled`); `read_page` reads the other rows (few) by the whole rule
        settled = " and ".join(f"(v{n} is null or ({fast[n]}) is not null)"
                               for n in range(len(self.cursors))) or "true"
        cursors = (f", coalesce({', '.join(fast)}) as started_at" if fast
                   else ", null::timestamptz as started_at")
        cursors += f", {settled} as settled" + "".join(
            f", {fast[n]} as t{n}, v{n}" for n in range(len(self.cursors)))
        # A page without records still gives one row (`size` 0 or null) for its envelope.
        statement = f"""
            select n, kind, envelope, size, record, call_id{cursors}
            from (
                select n, kind, envelope, size, record, {self.call_id} as call_id{casts}
                from (
                    select n, kind, envelope, size, coalesce(r, 'null') as record,
                        from_json(r, {_quote(orjson.dumps(types).decode())}) as x
                    from (
                        select n, kind, envelope, len(recs) as size,
                            unnest(if(len(recs) > 0, recs, [null::json])) as r
                        from (
                            select n, [{keys}]::varchar[] as envelope, s{access} as recs,
                                if(s{access} is null, json_type(b, {_quote(path)}), 'ARRAY')
                                    as kind
                            from (
                                select n, b, from_json(b, {_quote(orjson.dumps(body).decode())})
                                    as s
                                from (select n, decode(blob) as b
                                      from unnest(?::blob[]) with ordinality
                                          as bodies(blob, n)))))))"""
        object.__setattr__(self, "sql", statement)
        # The head: what a paginator reads before the records are parsed (the body checked
        # as JSON, the envelope, how many records), in one parse that makes no record text.
        head = dict(body)
        counted: Any = ["NULL"]
        for key in reversed(self.records[1:]):
            counted = {key: counted}
        head[self.records[0]] = counted
        object.__setattr__(self, "head_sql", f"""
            select if(s{access} is null, json_type(b, {_quote(path)}), 'ARRAY') as kind,
                [{keys}]::varchar[] as envelope, len(s{access}) as size
            from (select b, from_json(b, {_quote(orjson.dumps(head).decode())}) as s
                  from (select decode(?::blob) as b))""")


@dataclass
class Page:
    """A page read: the raw table of its records and the envelope fields asked for."""

    table: pa.Table
    envelope: dict[str, Any]

    @property
    def size(self) -> int:
        return self.table.num_rows


@dataclass
class Head:
    """A page before its records are parsed: what its paginator reads, and the body."""

    envelope: dict[str, Any]
    size: int
    body: bytes

    def __len__(self) -> int:
        return self.size


class BodyNotJson(ValueError):
    """The body is not JSON (the HTTP layer retries it, as any unreadable body)."""


_local = threading.local()
_lock = threading.Lock()
_parsers = ThreadPoolExecutor(max_workers=PARSERS, thread_name_prefix="page-parser")
# Heads are read in a thread of their own: a walk waits for its page's head before asking
# for the next page, and must not queue behind a batch of records being parsed.
_header = ThreadPoolExecutor(max_workers=1, thread_name_prefix="page-head")
_waiting: dict[str, list[tuple[bytes, Future[pa.Table]]]] = {}  # statement -> bodies
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
                    "preserve_insertion_order": True})  # records stay in page order
                database.execute(_SETUP.format(macros=_MACROS.read_text()))
                _database = database
            cursor = _database.cursor()
        cursor.execute("set TimeZone = 'UTC'")
        _local.cursor = cursor
    return cursor


def close() -> None:
    """Close the parsing database and forget every thread's cursor of it (its memory goes
    back); the next page read opens a new one. Call it when no page is being read."""
    global _database, _local
    with _lock:
        database, _database = _database, None
        _local = threading.local()
    if database is not None:
        database.close()  # its cursors close with it


def _execute(sql: str, bodies: list[bytes]) -> pa.Table:
    return _cursor().execute(sql, [bodies]).to_arrow_table()


def _parse(sql: str, text: bytes) -> pa.Table:
    """`sql` over one body, in a parser thread, batched with others waiting for it."""
    return _enqueue(sql, [text])[0].result()


def _enqueue(sql: str, bodies: list[bytes]) -> list[Future[pa.Table]]:
    """`bodies` queued for `sql`, a future each: the bodies that arrive before a parser
    takes the first waiting one join its batch."""
    futures: list[Future[pa.Table]] = []
    with _lock:
        waiting = _waiting.setdefault(sql, [])
        first = not waiting
        for body in bodies:
            done: Future[pa.Table] = Future()
            waiting.append((body, done))
            futures.append(done)
    if first and bodies:
        _parsers.submit(_drain, sql)
    return futures


def _drain(sql: str) -> None:
    with _lock:
        waiting = _waiting.pop(sql, [])
        size, n = 0, 0
        while n < len(waiting) and (n == 0 or size + len(waiting[n][0]) <= 2 * BATCH_BYTES):
            size += len(waiting[n][0])
            n += 1
        batch, rest = waiting[:n], waiting[n:]
        if rest:
            _waiting[sql] = rest
    # a page no walk waits for any more (cancelled) is not parsed; the rest can't be now
    if rest:
        _parsers.submit(_drain, sql)
    batch = [(text, done) for text, done in batch if done.set_running_or_notify_cancel()]
    try:
        _run(sql, batch)
    except BaseException as exc:  # whatever happens, no reader is left waiting
        for _, done in batch:
            if not done.done():
                done.set_exception(exc)
        raise


def _run(sql: str, batch: list[tuple[bytes, Future[pa.Table]]]) -> None:
    if not batch:
        return
    try:
        result = _execute(sql, [text for text, _ in batch])
    except duckdb.Error as exc:
        if len(batch) == 1:
            batch[0][1].set_exception(exc)
            return
        for text, done in batch:  # one bad body fails alone
            try:
                done.set_result(_execute(sql, [text]))
            except duckdb.Error as single:
                done.set_exception(single)
        return
    counts = pc.value_counts(result.column("n")).field("counts").to_pylist()
    offset = 0
    for (_, done), count in zip(batch, counts, strict=True):  # each page's rows, in order
        done.set_result(result.slice(offset, count))
        offset += count


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
    text = _bytes(body)
    try:
        result = _parse(shape.sql, text)
    except (duckdb.InvalidInputException, duckdb.ConversionException):  # malformed JSON
        raise BodyNotJson(f"{shape.where}: the body is not JSON") from None
    head = _head(shape, result.column("kind")[0].as_py(), result.column("envelope")[0].as_py(),
                 result.column("size")[0].as_py(), text)
    return Page(_table(shape, result if head.size else result.slice(0, 0), account_id),
                head.envelope)


def read_head(shape: PageShape, body: bytes | str) -> Head:
    """What a paginator reads of a page (the envelope, the number of records), without
    parsing the records: `read_pages` parses them later, many bodies at once.

    Raises:
        BodyNotJson: The body is not JSON (the whole body is checked).
        ProviderError: The body has no record list where `shape.records` says.
    """
    text = _bytes(body)
    try:
        kind, envelope, size = _header.submit(
            lambda: _cursor().execute(shape.head_sql, [text]).fetchall()[0]).result()
    except (duckdb.InvalidInputException, duckdb.ConversionException):
        raise BodyNotJson(f"{shape.where}: the body is not JSON") from None
    return _head(shape, kind, envelope, size, text)


def read_pages(shape: PageShape, heads: list[Head], account_id: str | None,
               ) -> list[Pending]:
    """The raw tables of pages whose heads were read, parsed in as few statements as
    `BATCH_BYTES` allows: one `Pending` per page, in order."""
    futures = _enqueue(shape.sql, [head.body for head in heads])
    return [Pending(shape, head, account_id, done)
            for head, done in zip(heads, futures, strict=True)]


@dataclass
class Pending:
    """A page whose records are being parsed; `result()` waits for its raw table."""

    shape: PageShape
    head: Head
    account_id: str | None
    parsed: Future[pa.Table]

    def result(self) -> pa.Table:
        """The page's raw table (in the caller's thread: the timestamp rule may need a
        parser, so never in one)."""
        result = self.parsed.result()
        if result.column("size")[0].as_py() != self.head.size:  # one body, two reads
            raise ProviderError(self.shape.slug, f"{self.shape.where}: a page read two "
                                "ways disagreed")
        return _table(self.shape, result if self.head.size else result.slice(0, 0),
                      self.account_id)

    def cancel(self) -> None:
        self.parsed.cancel()


def _head(shape: PageShape, kind: str | None, envelope: list[str | None], size: int | None,
          text: bytes) -> Head:
    if kind != "ARRAY":
        found = "nothing" if kind is None else f"a JSON {kind.lower()}"
        raise ProviderError(shape.slug, f"{shape.where}: response has no "
                            f"{'.'.join(shape.records)} list (found {found})")
    return Head({key: orjson.loads(value)
                 for key, value in zip(shape.envelope, envelope, strict=True)
                 if value is not None}, size or 0, text)


def _table(shape: PageShape, rows: pa.Table, account_id: str | None) -> pa.Table:
    """A page's rows as its raw table, copied out of DuckDB's result (combine_chunks),
    which is then freed at once: tables that held on to it, freed later in the loader's
    thread, grew RSS with N."""
    n = rows.num_rows
    fetched_at = pa.scalar(datetime.now(UTC), TIMESTAMP)
    return pa.Table.from_arrays([
        rows.column("call_id").combine_chunks(), _started_at(rows, len(shape.cursors)),
        pa.repeat(pa.scalar(account_id, pa.string()), n),
        rows.column("record").combine_chunks(), pa.repeat(fetched_at, n),
    ], schema=RAW_CALL_SCHEMA)


def _bytes(body: bytes | str) -> bytes:
    """The body as bytes: DuckDB decodes them (a body that is not UTF-8 is not JSON: it
    is retried, never mangled)."""
    return body.encode() if isinstance(body, str) else body


def _started_at(rows: pa.Table, cursors: int) -> pa.Array:
    """The first readable cursor of each row: the fast cast (`started_at`) where it
    settles the row, else `staging.ts` for the texts it missed (epoch numbers, odd forms,
    the unreadable), per cursor in order."""
    if pc.all(rows.column("settled")).as_py() is not False:
        return rows.column("started_at").combine_chunks().cast(TIMESTAMP)
    started: pa.Array = pa.nulls(len(rows), TIMESTAMP)
    for n in range(cursors):
        fast = rows.column(f"t{n}").combine_chunks().cast(TIMESTAMP)
        text = rows.column(f"v{n}").combine_chunks()
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
