"""The page walk every client shares, and the Arrow shape of a page of raw call records.

A paginator has dlt's `BasePaginator` hooks (`init_request`, `update_state`,
`update_request`, `has_next_page`), over httpx and plain params instead of `requests`;
a numbered one may add `pages_after` to be read ahead.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

import dlt
import pyarrow as pa

from sources._http import Http
from sources._native import (
    BATCH_BYTES,
    Head,
    Page,
    PageShape,
    Pending,
    read_head,
    read_page,
    read_pages,
)
from sources._native import RAW_CALL_SCHEMA as RAW_CALL_SCHEMA
from sources._native import parse_timestamps as parse_timestamps

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

    def update_state(self, body: Mapping[str, Any], records: pa.Table) -> None:
        """Read a page: `body` holds the envelope keys its `PageShape` names (a key the
        page lacks is absent), `records` the page's raw table; a paginator whose class
        sets `envelope_only = True` reads only `len(records)` of it, and gets a `Head`
        (the page before its records are parsed)."""
        ...

    def update_request(self, params: dict[str, Any]) -> str | None:
        """Set the next page's params; return a full URL to fetch instead, if any."""
        ...


@dataclass(frozen=True)
class PageReader:
    """What a walk does with each body (in the thread that fetched it): the whole page
    (`read_page`), or its head only (`read_head`), the records parsed later in batches."""

    shape: PageShape
    account_id: str | None = None

    def __call__(self, body: bytes) -> Page:
        return read_page(self.shape, body, self.account_id)

    def head(self, body: bytes) -> Head:
        return read_head(self.shape, body)

    def records(self, heads: list[Head]) -> list[Pending]:
        return read_pages(self.shape, heads, self.account_id)


def reader(shape: PageShape, account_id: str | None = None) -> PageReader:
    """The page reader of `shape` for the partition `account_id`."""
    return PageReader(shape, account_id)


# A numbered walk keeps this many pages requested beyond the next one (its paginator's
# `pages_after` says which exist), so that two requests are in flight: small pages
# (Unpod's 100) then do not wait one round trip each. More did not pay here: on loopback,
# 4 cost a CPU-bound 1M backfill ~7 % (GIL contention of more threads), and 20 requests/s
# at 100 ms latency is already met with two in flight (bench/README.md).
READ_AHEAD = 1


def walk(
    http: Http, path: str, params: dict[str, Any], paginator: Paginator,
    read: PageReader,
    last: Callable[[pa.Table], bool] | None = None,
    tally: bool = True,
) -> Iterator[pa.Table]:
    """GET `path` page by page, yielding each page's raw table, in order.

    The next page is requested (in a thread of its own) before this one is yielded, so the
    network and the server overlap the caller's work on it. A page for which `last` is
    true ends the walk (the caller needs no later page), and no page after it is asked for
    (but those already read ahead).

    Where the paginator reads only the envelope and the number of records
    (`envelope_only`) and no `last` needs the records, only each page's head is read
    before the next page is asked for; the records of `BATCH_BYTES` of bodies are parsed
    together while the walk goes on. Otherwise each page is parsed whole in the thread
    that fetched it (off the interpreter lock) before the next is asked for.

    A paginator with `pages_after(params, n)` (the params of at most `n` pages that surely
    follow the one `params` names) is read ahead: from the second page on, `READ_AHEAD`
    further pages are in flight. A page asked for ahead is used
    only when the walk reaches exactly its params; the rest are dropped unread.

    With `tally` (the sync window's walk), the records count as `received` and, once the
    walk reaches its end, the meter gets the paginator's `api_count` (what the API said
    the window holds, read from the first page; None where it says nothing, or when the
    walk stopped early). Without it (re-fetching unfinished calls) they count as
    `followed`. A walk that fails still yields every page read before the failure.
    """
    paginator.init_request(params)
    ahead = getattr(paginator, "pages_after", None)
    deferred = last is None and getattr(paginator, "envelope_only", False)
    fetch: Callable[[bytes], Page | Head] = read.head if deferred else read
    workers = 1 + (READ_AHEAD if ahead else 0)
    queued: dict[tuple[tuple[str, Any], ...], Future[Any]] = {}
    heads: list[Head] = []  # read, their records not yet handed to the parser
    size = 0
    batches: deque[list[Pending]] = deque()  # handed to the parser, not yet yielded

    def request(page: dict[str, Any]) -> Future[Any]:
        early = queued.pop(_key(page), None) if queued else None
        return early or pool.submit(http.get_page, path, dict(page), fetch)

    def parsed(every: bool) -> Iterator[pa.Table]:
        """The batches being parsed but the newest (`every`: all of them, and the heads
        not handed over yet), in order."""
        nonlocal heads, size
        if every and heads:
            batches.append(read.records(heads))
            heads, size = [], 0
        while len(batches) > (0 if every else 1):
            for page in batches.popleft():
                yield page.result()

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="walk") as pool:
        pending: Future[Any] | None = request(params)
        done = 0
        api_count: int | None = None
        stopped = False  # cut short (by `last`, or closed): the count is not of what was read
        try:
            while pending is not None:
                try:
                    page: Page | Head = pending.result()
                except BaseException:
                    yield from parsed(every=True)  # what was read before the failure
                    raise
                if isinstance(page, Head):
                    paginator.update_state(page.envelope, page)  # type: ignore[arg-type]
                    n = page.size
                else:
                    paginator.update_state(page.envelope, page.table)
                    n = page.table.num_rows
                done += 1
                if done == 1:
                    api_count = getattr(paginator, "api_count", None)
                pending = None
                cut = bool(last and isinstance(page, Page) and last(page.table))
                stopped = stopped or (cut and paginator.has_next_page)
                if paginator.has_next_page and not cut:
                    url = paginator.update_request(params)
                    if url:
                        pending = pool.submit(http.get_page, url, None, fetch)
                    else:
                        pending = request(params)
                        if ahead:
                            for ahead_page in ahead(params, min(done - 1, READ_AHEAD)):
                                key = _key(ahead_page)
                                if key not in queued:
                                    queued[key] = pool.submit(http.get_page, path,
                                                              dict(ahead_page), fetch)
                http.meter.count(pages=1, records=n, received=n if tally else 0,
                                 followed=0 if tally else n)
                if done == 1 and api_count is not None:
                    http.meter.expect(api_count)  # progress can estimate what is left
                if isinstance(page, Page):
                    yield page.table
                    continue
                heads.append(page)
                size += len(page.body)
                if size >= BATCH_BYTES:
                    batches.append(read.records(heads))
                    heads, size = [], 0
                # a batch is yielded once the next is handed over (or the walk ended): the
                # parser works while pages are fetched, and two batches at most are held
                yield from parsed(every=pending is None)
        except GeneratorExit:
            stopped = stopped or pending is not None  # closed before the last page
            raise
        finally:  # a walk ended or closed early: pages not yet started are not asked for
            if tally:
                http.meter.window(None if stopped else api_count)
            for future in (pending, *queued.values()):
                if future is not None:
                    future.cancel()
            for batch in batches:
                for left in batch:
                    left.cancel()


def numbered_pages(params: dict[str, Any], page: int, n: int, total: int,
                   per_page: int) -> list[dict[str, Any]]:
    """`pages_after` for a page-numbered API: the params of up to `n` pages after `page`
    that `total` records in pages of `per_page` hold."""
    last = -(-total // per_page)
    return [dict(params, page=p) for p in range(page + 1, min(page + n, last) + 1)]


def _key(params: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted(params.items()))


def reaches_before(field: str, since: datetime | None) -> Callable[[pa.Table], bool] | None:
    """For a newest-first walk: is a page's oldest readable `field` (a column of its raw
    table) before `since`? Every later page is older still, so the incremental would drop
    them all."""
    if since is None:
        return None

    def check(records: pa.Table) -> bool:
        readable = records.column(field).drop_null()
        return len(readable) > 0 and readable[-1].as_py() < since
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
