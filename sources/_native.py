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
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pyarrow as pa

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
# Page parsing needs little: the body and its records, ~2-3x a page's bytes.
MEMORY_LIMIT = "64MB"

# Python's `str()` of a JSON value, as the contract's ids read it: a string as is, a
# number as written, true/false as Python spells them; null stays null.
_SETUP = """
set TimeZone = 'UTC';
create schema if not exists staging;
{macros}
create or replace macro text_of(v) as
    case json_type(v)
        when 'VARCHAR' then v ->> '$'
        when 'NULL' then null
        when 'BOOLEAN' then if(v::varchar = 'true', 'True', 'False')
        else v::varchar
    end;
-- a cursor value: the warehouse's rule, with its usual case (an ISO string) tried first
create or replace macro cursor_of(v) as
    case when isfinite(try_cast(v ->> '$' as timestamptz))
        then nullif(try_cast(v ->> '$' as timestamptz), timestamptz '1970-01-01 00:00:00+00')
        else staging.ts(v ->> '$') end;
"""


@dataclass(frozen=True)
class PageShape:
    """How one endpoint's pages look to the parser.

    Attributes:
        slug: The provider, for errors.
        where: The endpoint, for errors (`calls`, `RecentCalls`).
        records: Keys down to the record list (`("data",)`, `("data", "calls")`).
        fields: Record fields the id and cursor read: each is `x.<field>` (JSON, null where
            absent or where the record is not an object) in `call_id` and `started_at`.
        call_id: SQL over `x`: the contract's id as text, or null.
        started_at: SQL over `x`: the cursor as a timestamptz, or null.
        envelope: Top-level keys the paginator reads; each present one comes back as its
            JSON value (a key present with null is there, as None; a missing key is not).
    """

    slug: str
    where: str
    records: tuple[str, ...]
    fields: tuple[str, ...]
    call_id: str
    started_at: str = "null::timestamptz"
    envelope: tuple[str, ...] = ()
    sql: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        path = "$" + "".join(f".{_name(k)}" for k in self.records)
        keys = ", ".join(f"json_extract(b, {_quote('$.' + _name(k))})::varchar"
                         for k in self.envelope)
        # the fields of every record in one parse of the body (a record that is not an
        # object reads as all-null), beside each record's own JSON text, by position
        structure: Any = [{name: "JSON" for name in self.fields} or {"_": "JSON"}]
        for key in reversed(self.records):
            structure = {key: structure}
        access = "".join(f".{_ident(k)}" for k in self.records)
        statement = f"""
            select kind, envelope,
                list_transform(coalesce(f, []), lambda x, i: {{
                    call_id: {self.call_id}, started_at: {self.started_at},
                    record: texts[i]}}) as rows
            from (
                select json_type(b, {_quote(path)}) as kind,
                    [{keys}]::varchar[] as envelope,
                    json_extract(b, {_quote(path + '[*]')})::varchar[] as texts,
                    case when json_type(b, {_quote(path)}) = 'ARRAY' then
                        from_json(b, {_quote(orjson.dumps(structure).decode())}){access}
                    end as f
                from (select ?::json as b))"""
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
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        result = _cursor().execute(shape.sql, [text]).to_arrow_table()
    except (duckdb.InvalidInputException, duckdb.ConversionException) as exc:  # malformed
        raise BodyNotJson(str(exc).splitlines()[0]) from None
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
        rows.field("call_id"), rows.field("started_at").cast(TIMESTAMP),
        pa.repeat(pa.scalar(account_id, pa.string()), n), rows.field("record"),
        pa.repeat(fetched_at, n),
    ], schema=RAW_CALL_SCHEMA)
    return Page(table, envelope)


def records_table(shape: PageShape, records: list[Any], account_id: str | None) -> pa.Table:
    """Records already in hand (a call fetched by id, live calls, tests) as the raw table
    of `shape`: the same statement reads them, as a page holding them."""
    body: Any = records
    for key in reversed(shape.records):
        body = {key: body}
    return read_page(shape, orjson.dumps(body), account_id).table


def parse_timestamps(values: list[Any]) -> pa.Array:
    """Values (as an API gives them) parsed by the cursor rule `cursor_of`, in one query."""
    shape = _TIMES
    return records_table(shape, values, None).column("started_at").combine_chunks()


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _name(key: str) -> str:
    """A key in a JSONPath, quoted."""
    return '"' + key.replace('"', '\\"') + '"'


def _ident(key: str) -> str:
    """A key as a SQL identifier (a struct field)."""
    return '"' + key.replace('"', '""') + '"'


_TIMES = PageShape("callsync", "timestamps", ("data",), (), "null", "cursor_of(texts[i])")
