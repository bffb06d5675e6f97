"""The page walk every client shares, and the Arrow shape of a page of raw call records.

A paginator has dlt's `BasePaginator` hooks (`init_request`, `update_state`,
`update_request`, `has_next_page`), over httpx and plain params instead of `requests`;
a numbered one may add `pages_after` to be read ahead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

import dlt
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from sources._http import Http, ProviderError
from sources._time import parse_timestamp

# Every raw call table has these columns: the parsed id and cursor (per the contract's
# rules for the provider), the partition it was read from, the whole record as JSON text,
# and when it was fetched (newest fetch wins in staging; `calls.synced_at`).
RAW_CALL_COLUMNS = {
    "call_id": "varchar", "started_at": "timestamptz", "account_id": "varchar",
    "record": "varchar", "fetched_at": "timestamptz",
}
_DLT_TYPES = {"varchar": "text", "timestamptz": "timestamp", "json": "json"}


def dlt_columns(columns: dict[str, str]) -> dict[str, Any]:
    """A raw table's `RAW_COLUMNS` entry (name -> SQL type) as dlt column hints."""
    return {name: {"data_type": _DLT_TYPES[kind], "nullable": True}
            for name, kind in columns.items()}


RAW_CALL_SCHEMA = pa.schema([
    ("call_id", pa.string()),
    ("started_at", pa.timestamp("us", tz="UTC")),
    ("account_id", pa.string()),
    ("record", pa.string()),
    ("fetched_at", pa.timestamp("us", tz="UTC")),
])


def call_cursor(
    start: datetime, lag: int, backfill: tuple[datetime, datetime | None] | None,
    row_order: Literal["asc", "desc"] | None = None, now: datetime | None = None,
) -> dlt.sources.incremental[datetime]:
    """The incremental on a raw call table's `started_at`, with `call_id` breaking ties:
    the one declaration of a call resource's cursor (its default argument).

    A sync starts at the stored cursor minus `lag` (or `start` the first time) and has no
    end value. A backfill is the window `[start, end)`; dlt neither reads nor moves the
    stored cursor of an incremental with an end value, so a backfill without `--end` ends
    at `now`, the sync's start (the contract: "an end in the future means now").
    """
    common: dict[str, Any] = {"row_order": row_order, "on_cursor_value_missing": "include",
                              "primary_key": "call_id"}
    if backfill:
        end = backfill[1] or now or datetime.now(UTC)
        return dlt.sources.incremental("started_at", initial_value=backfill[0],
                                       end_value=end, **common)
    return dlt.sources.incremental("started_at", initial_value=start, lag=lag, **common)


class Paginator(Protocol):
    has_next_page: bool

    def init_request(self, params: dict[str, Any]) -> None: ...

    def update_state(self, body: Any, records: list[Any]) -> None: ...

    def update_request(self, params: dict[str, Any]) -> str | None:
        """Set the next page's params; return a full URL to fetch instead, if any."""
        ...


def data_list(slug: str, where: str, *keys: str) -> Callable[[Any], list[Any]]:
    """The reader of a page's record list, found under `keys` (e.g. `data`, `calls`):
    a body without that list raises a `ProviderError` naming `where` (the endpoint)."""
    def read(body: Any) -> list[Any]:
        value = body
        for key in keys:
            value = value.get(key) if isinstance(value, dict) else None
        if not isinstance(value, list):
            raise ProviderError(slug, f"{where}: response has no {'.'.join(keys)} list")
        return value
    return read


# A numbered walk keeps this many pages requested beyond the next one (its paginator's
# `pages_after` says which exist), so that two requests are in flight: small pages
# (Unpod's 100) then do not wait one round trip each. More did not pay here: on loopback,
# 4 cost a CPU-bound 1M backfill ~7 % (GIL contention of more threads), and 20 requests/s
# at 100 ms latency is already met with two in flight (bench/README.md).
READ_AHEAD = 1


def walk(
    http: Http, path: str, params: dict[str, Any], paginator: Paginator,
    records_of: Callable[[Any], list[Any]],
    last: Callable[[list[Any]], bool] | None = None,
    tally: bool = True,
) -> Iterator[list[Any]]:
    """GET `path` page by page, yielding each page's records as the API returned them.

    The next page is requested (in a thread of its own) before this one is yielded, so the
    network and the server overlap the caller's work on it. A page for which `last` is
    true ends the walk (the caller needs no later page), and no page after it is asked for
    (but those already read ahead).

    A paginator with `pages_after(params, n)` (the params of at most `n` pages that surely
    follow the one `params` names) is read ahead: from the second page on, `READ_AHEAD`
    further pages are in flight. A page asked for ahead is used
    only when the walk reaches exactly its params; the rest are dropped unread.

    With `tally` (the sync window's walk), the records count as `received` and, once the
    walk reaches its end, the meter gets the paginator's `api_count` (what the API said
    the window holds, read from the first page; None where it says nothing, or when the
    walk stopped early). Without it (re-fetching unfinished calls) they count as
    `followed`.
    """
    paginator.init_request(params)
    ahead = getattr(paginator, "pages_after", None)
    workers = 1 + (READ_AHEAD if ahead else 0)
    queued: dict[tuple[tuple[str, Any], ...], Future[Any]] = {}

    def request(page: dict[str, Any]) -> Future[Any]:
        early = queued.pop(_key(page), None) if queued else None
        return early or pool.submit(http.get_json, path, dict(page))

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="walk") as pool:
        pending: Future[Any] | None = request(params)
        read = 0
        api_count: int | None = None
        stopped = False  # cut short (by `last`, or closed): the count is not of what was read
        try:
            while pending is not None:
                body = pending.result()
                records = records_of(body)
                paginator.update_state(body, records)
                read += 1
                if read == 1:
                    api_count = getattr(paginator, "api_count", None)
                pending = None
                cut = bool(last and last(records))
                stopped = stopped or (cut and paginator.has_next_page)
                if paginator.has_next_page and not cut:
                    url = paginator.update_request(params)
                    if url:
                        pending = pool.submit(http.get_json, url, None)
                    else:
                        pending = request(params)
                        if ahead:
                            for page in ahead(params, min(read - 1, READ_AHEAD)):
                                key = _key(page)
                                if key not in queued:
                                    queued[key] = pool.submit(http.get_json, path, dict(page))
                n = len(records)
                http.meter.count(pages=1, records=n, received=n if tally else 0,
                                 followed=0 if tally else n)
                if read == 1 and api_count is not None:
                    http.meter.expect(api_count)  # progress can estimate what is left
                yield records
        except GeneratorExit:
            stopped = stopped or pending is not None  # closed before the last page
            raise
        finally:  # a walk ended or closed early: pages not yet started are not asked for
            if tally:
                http.meter.window(None if stopped else api_count)
            for future in (pending, *queued.values()):
                if future is not None:
                    future.cancel()


def numbered_pages(params: dict[str, Any], page: int, n: int, total: int,
                   per_page: int) -> list[dict[str, Any]]:
    """`pages_after` for a page-numbered API: the params of up to `n` pages after `page`
    that `total` records in pages of `per_page` hold."""
    last = -(-total // per_page)
    return [dict(params, page=p) for p in range(page + 1, min(page + n, last) + 1)]


def _key(params: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted(params.items()))


def reaches_before(field: str, since: datetime | None) -> Callable[[list[Any]], bool] | None:
    """For a newest-first walk: is a page's oldest readable `field` before `since`? Every
    later page is older still, so the incremental would drop them all."""
    if since is None:
        return None

    def check(records: list[Any]) -> bool:
        for record in reversed(records):
            started = parse_timestamp(record.get(field)) if isinstance(record, dict) else None
            if started is not None:
                return started < since
        return False
    return check


# Pages are handed to dlt in tables of about this many rows: dlt's fixed cost per item
# (schema hints, incremental, writer) is paid per table, not per page.
BATCH_ROWS = 20_000


def batched(tables: Iterable[pa.Table], rows: int = BATCH_ROWS) -> Iterator[pa.Table]:
    """Consecutive tables concatenated (no copy) into tables of at least `rows` rows."""
    pending: list[pa.Table] = []
    count = 0
    empty = None
    sent = False
    for table in tables:
        if not table.num_rows:
            empty = table
            continue
        pending.append(table)
        count += table.num_rows
        if count >= rows:
            yield pa.concat_tables(pending)
            pending, count, sent = [], 0, True
    if pending:
        yield pa.concat_tables(pending)
    elif empty is not None and not sent:
        yield empty  # nothing at all: dlt still sees the (empty) table


TIMESTAMP = pa.timestamp("us", tz="UTC")
_EPOCH = pa.scalar(0, TIMESTAMP)


def parse_timestamps(values: list[Any]) -> pa.Array:
    """`parse_timestamp` over a page: in Arrow's C++ when every value is a zoned ISO
    string or null (the usual page), else value by value in Python."""
    if values and all(type(v) is str or v is None for v in values):
        try:
            parsed = pc.cast(pa.array(values, pa.string()), TIMESTAMP)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
        else:
            return pc.if_else(pc.equal(parsed, _EPOCH), pa.scalar(None, TIMESTAMP), parsed)
    return pa.array([parse_timestamp(v) for v in values], TIMESTAMP)


def raw_calls_table(
    records: list[Any],
    call_id: Callable[[dict[str, Any]], object],
    started_at: Callable[[dict[str, Any]], object],
    account_id: str | None,
) -> pa.Table:
    """One page as an Arrow table of `RAW_CALL_SCHEMA`: nothing in it is dropped.

    Args:
        records: The page's records as returned (a non-object is kept as its JSON).
        call_id: The record's id per the contract (None where it has none).
        started_at: The record's cursor value, raw; parsed here to aware UTC.
        account_id: The partition (phone number, account) the page was read from.
    """
    fetched_at = datetime.now(UTC)
    fields = [r if type(r) is dict else {} for r in records]
    keys = [call_id(f) for f in fields]
    n = len(records)
    # orjson's bytes go to Arrow as binary and are cast to string without a Python str each
    texts = pc.cast(pa.array([orjson.dumps(r) for r in records], pa.binary()), pa.string())
    return pa.table([
        pa.array([None if k is None or k == "" else str(k) for k in keys], pa.string()),
        parse_timestamps([started_at(f) for f in fields]),
        pa.repeat(pa.scalar(account_id, pa.string()), n),
        texts,
        pa.repeat(pa.scalar(fetched_at, TIMESTAMP), n),
    ], schema=RAW_CALL_SCHEMA)
