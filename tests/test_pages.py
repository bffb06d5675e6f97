"""The shared page walk and batching, as pure code over a fake session (no network)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
import pyarrow as pa
import pytest

from sources._http import Meter, ProviderError
from sources._native import PageShape, records_table
from sources._pages import READ_AHEAD, batched, reaches_before, reader, walk

# a page `{"total": n, "data": [{"id": ..., "started_at": ...}]}`, read natively
SHAPE = PageShape("test", "/calls", ("data",), ("id",), envelope=("total",),
                  call_id="x.id", cursors=("started_at",))
READ = reader(SHAPE, "acct")


class Pages:
    """Serves `pages` in order, one per request, and records what was asked."""

    def __init__(self, pages: list[list[Any]]) -> None:
        self.pages = pages
        self.asked: list[dict[str, Any]] = []
        self.meter = Meter()

    def get_page(self, path: str, params: Mapping[str, Any] | None,
                 read: Callable[[bytes], Any]) -> Any:
        self.asked.append(dict(params or {}))
        self.meter.count(requests=1)
        return read(orjson.dumps({"data": self.pages[len(self.asked) - 1]}))


class ByNumber:
    """`page=n` until a page of fewer than `size` records."""

    def __init__(self, size: int) -> None:
        self.size, self.page, self.has_next_page = size, 1, True

    def init_request(self, params: dict[str, Any]) -> None:
        params["page"] = 1

    def update_state(self, body: Any, records: list[Any]) -> None:
        self.has_next_page = len(records) == self.size

    def update_request(self, params: dict[str, Any]) -> str | None:
        self.page += 1
        params["page"] = self.page
        return None


def records(*stamps: str) -> list[dict[str, Any]]:
    return [{"id": i, "started_at": s} for i, s in enumerate(stamps)]


def page(rows: list[Any]) -> pa.Table:
    return records_table(SHAPE, rows, "acct")


def test_walk_yields_every_page_and_asks_for_no_more() -> None:
    http = Pages([records("a", "b"), records("c", "d"), records("e")])
    got = list(walk(http, "/calls", {}, ByNumber(2), READ))  # type: ignore[arg-type]
    assert [len(p) for p in got] == [2, 2, 1]
    assert [a["page"] for a in http.asked] == [1, 2, 3]
    assert http.meter.pages == 3 and http.meter.requests == 3


def test_a_last_page_ends_the_walk_without_prefetching_the_next() -> None:
    newest_first = [records("2026-03-09T12:00:00Z", "2026-03-09T11:00:00Z"),
                    records("2026-03-09T10:00:00Z", "2026-03-09T09:00:00Z"),
                    records("2026-03-09T08:00:00Z", "2026-03-09T07:00:00Z")]
    http = Pages(newest_first)
    since = datetime(2026, 3, 9, 9, 30, tzinfo=UTC)
    got = list(walk(http, "/calls", {}, ByNumber(2), READ,  # type: ignore[arg-type]
                    last=reaches_before("started_at", since)))
    assert len(got) == 2 and len(http.asked) == 2


def test_reaches_before_uses_the_oldest_readable_time() -> None:
    check = reaches_before("started_at", datetime(2026, 3, 9, 10, tzinfo=UTC))
    assert check is not None
    assert check(page(records("2026-03-09T11:00:00Z", "2026-03-09T09:00:00Z")))
    assert check(page(records("2026-03-09T09:00:00Z", "not a time")))  # skips the unreadable
    assert not check(page(records("2026-03-09T11:00:00Z", "2026-03-09T10:30:00Z")))
    assert not check(page([{"no": "time"}, "not an object"]))  # nothing readable: read on
    assert reaches_before("started_at", None) is None


def test_closing_the_walk_early_waits_for_the_page_in_flight() -> None:
    http = Pages([records("a", "b")] * 5)
    pages = walk(http, "/calls", {}, ByNumber(2), READ)  # type: ignore[arg-type]
    next(pages)
    pages.close()
    assert len(http.asked) <= 2  # the first page, and at most the one prefetched
    assert not [t for t in threading.enumerate() if t.name.startswith("walk")]


def table(n: int, start: int = 0) -> pa.Table:
    return page([{"id": str(i)} for i in range(start, start + n)])


@pytest.mark.parametrize(("sizes", "rows", "expected"), [
    ([3, 3, 3], 5, [6, 3]),
    ([5], 5, [5]),
    ([2, 0, 2], 10, [4]),
    ([], 10, []),
    ([2, 0], 2, [2]),  # an empty page after a full batch adds no empty table
])
def test_batched_joins_pages_in_order_without_losing_rows(
    sizes: list[int], rows: int, expected: list[int],
) -> None:
    tables, start = [], 0
    for n in sizes:
        tables.append(table(n, start))
        start += n
    got = list(batched(tables, rows=rows))
    assert [t.num_rows for t in got] == expected
    ids = [i for t in got for i in t.column("call_id").to_pylist()]
    assert ids == [str(i) for i in range(start)]


def test_batched_hands_on_one_empty_table_when_there_is_nothing() -> None:
    got = list(batched([table(0), table(0)]))
    assert [t.num_rows for t in got] == [0]


def test_meter_counts_from_many_threads() -> None:
    meter = Meter()

    def count() -> None:
        for _ in range(10_000):
            meter.count(pages=1, requests=2)

    threads = [threading.Thread(target=count) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (meter.pages, meter.requests) == (40_000, 80_000)


class Numbered:
    """Serves page `n` of `total` records by the `page` param, from any thread."""

    def __init__(self, total: int, size: int) -> None:
        self.total, self.size = total, size
        self.asked: list[int] = []
        self.meter = Meter()
        self.lock = threading.Lock()
        self.page_four_asked = threading.Event()

    def get_page(self, path: str, params: Mapping[str, Any] | None,
                 read: Callable[[bytes], Any]) -> Any:
        page = int((params or {})["page"])
        with self.lock:
            self.asked.append(page)
        if page == 4:
            self.page_four_asked.set()
        if page == 3:  # answered only once page 4 is in flight: proves the read-ahead
            assert self.page_four_asked.wait(30), "page 4 was not asked for ahead of page 3"
        first = (page - 1) * self.size
        return read(orjson.dumps({"total": self.total, "data": [
            {"id": i} for i in range(first, min(first + self.size, self.total))]}))


class Counted(ByNumber):
    """`ByNumber` that knows the total, so it can name the pages ahead."""

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.total: int | None = None

    def update_state(self, body: Any, records: list[Any]) -> None:
        self.total = body["total"]
        self.has_next_page = self.page * self.size < body["total"]

    def pages_after(self, params: dict[str, Any], n: int) -> list[dict[str, Any]]:
        last = -(-(self.total or 0) // self.size)
        return [dict(params, page=p) for p in range(self.page + 1, min(self.page + n, last) + 1)]


def ids(pages: list[pa.Table]) -> list[int]:
    return [int(i) for table in pages for i in table.column("call_id").to_pylist()]


def test_a_numbered_walk_reads_ahead_and_asks_for_each_page_once() -> None:
    http = Numbered(total=25, size=2)
    got = list(walk(http, "/calls", {}, Counted(2), READ))  # type: ignore[arg-type]
    assert ids(got) == list(range(25))  # in order, all
    assert sorted(http.asked) == list(range(1, 14))  # each of the 13 pages once, no more
    assert http.meter.pages == 13


def test_a_last_page_ends_a_read_ahead_walk_and_drops_the_pages_read_ahead() -> None:
    http = Numbered(total=40, size=2)
    stop_at = "9"  # on page 5
    got = list(walk(http, "/calls", {}, Counted(2), READ,  # type: ignore[arg-type]
                    last=lambda records: stop_at in records.column("call_id").to_pylist()))
    assert ids(got) == list(range(10))
    assert len(http.asked) <= 5 + 1 + READ_AHEAD  # the next page, and those read ahead
    assert not [t for t in threading.enumerate() if t.name.startswith("walk")]


class WithCount(ByNumber):
    """`ByNumber` over an API whose pages say how many records the window holds."""

    api_count = 5


def test_a_window_walked_to_its_end_reports_what_the_api_counted_and_received() -> None:
    http = Pages([records("a", "b"), records("c", "d"), records("e")])
    list(walk(http, "/calls", {}, WithCount(2), READ))  # type: ignore[arg-type]
    assert (http.meter.received, http.meter.api_count, http.meter.followed) == (5, 5, 0)


def test_a_walk_cut_short_or_closed_reports_no_count() -> None:
    newest_first = [records("2026-03-09T12:00:00Z", "2026-03-09T11:00:00Z"),
                    records("2026-03-09T10:00:00Z", "2026-03-09T09:00:00Z"),
                    records("2026-03-09T08:00:00Z")]
    cut = Pages(newest_first)
    list(walk(cut, "/calls", {}, WithCount(2), READ,  # type: ignore[arg-type]
              last=reaches_before("started_at", datetime(2026, 3, 9, 11, 30, tzinfo=UTC))))
    assert (cut.meter.received, cut.meter.api_count) == (2, None)

    closed = Pages(newest_first)
    pages = walk(closed, "/calls", {}, WithCount(2), READ)  # type: ignore[arg-type]
    next(pages)
    pages.close()
    assert closed.meter.api_count is None


def test_a_re_read_for_unfinished_calls_is_not_received() -> None:
    http = Pages([records("a", "b"), records("c")])
    list(walk(http, "/calls", {}, WithCount(2), READ,  # type: ignore[arg-type]
              tally=False))
    assert (http.meter.received, http.meter.followed, http.meter.api_count) == (0, 3, None)


class EnvelopeOnly(ByNumber):
    """`ByNumber`, reading only how many records a page has: a deferred walk's paginator."""

    envelope_only = True

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.seen: list[type] = []

    def update_state(self, body: Any, records: Any) -> None:
        self.seen.append(type(records))
        super().update_state(body, records)


@pytest.mark.parametrize(("batch_bytes", "batches"), [(1, 4), (10**9, 1)])
def test_an_envelope_only_walk_parses_records_in_batches_in_order(
        monkeypatch: pytest.MonkeyPatch, batch_bytes: int, batches: int) -> None:
    import sources._pages as pages

    handed: list[int] = []
    real = pages.read_pages

    def spy(shape: PageShape, heads: list[Any], account_id: str | None) -> Any:
        handed.append(len(heads))
        return real(shape, heads, account_id)

    monkeypatch.setattr(pages, "BATCH_BYTES", batch_bytes)
    monkeypatch.setattr(pages, "read_pages", spy)
    rows = [[{"id": f"{n}-{i}", "started_at": "2026-03-09T10:00:00Z"} for i in range(2)]
            for n in range(3)] + [[{"id": "3-0", "started_at": "soon"}]]
    http = Pages(rows)
    paginator = EnvelopeOnly(2)
    got = list(walk(http, "/calls", {}, paginator, READ))  # type: ignore[arg-type]
    assert [t.column("call_id").to_pylist() for t in got] == [
        [r["id"] for r in page_rows] for page_rows in rows]
    assert got[0].column("account_id").to_pylist() == ["acct", "acct"]
    assert got[-1].column("started_at").to_pylist() == [None]
    assert len(handed) == batches and sum(handed) == 4
    assert [t.__name__ for t in paginator.seen] == ["Head"] * 4  # no records parsed first
    assert http.meter.pages == 4 and http.meter.records == 7


def test_an_envelope_only_walk_that_fails_still_yields_the_pages_it_read(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import sources._pages as pages

    class Failing(Pages):
        def get_page(self, path: str, params: Mapping[str, Any] | None,
                     read: Callable[[bytes], Any]) -> Any:
            if len(self.asked) == 2:
                raise ProviderError("test", "page 3 failed")
            return super().get_page(path, params, read)

    monkeypatch.setattr(pages, "BATCH_BYTES", 10**9)  # all in one batch, never handed over
    http = Failing([records("2026-03-09T10:00:00Z", "2026-03-09T11:00:00Z")] * 3)
    got: list[pa.Table] = []
    with pytest.raises(ProviderError, match="page 3 failed"):
        for table in walk(http, "/calls", {}, EnvelopeOnly(2), READ):  # type: ignore[arg-type]
            got.append(table)
    assert [t.num_rows for t in got] == [2, 2]
