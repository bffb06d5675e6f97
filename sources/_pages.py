"""The page walk every client shares, and the Arrow shape of a page of raw call records.

A paginator has dlt's `BasePaginator` hooks (`init_request`, `update_state`,
`update_request`, `has_next_page`), over httpx and plain params instead of `requests`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

import dlt
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from sources._http import Http
from sources._time import parse_timestamp

# Every raw call table has these columns: the parsed id and cursor (per the contract's
# rules for the provider), the partition it was read from, the whole record as JSON text,
# and when it was fetched (newest fetch wins in staging; `calls.synced_at`).
RAW_CALL_COLUMNS = {
    "call_id": "varchar", "started_at": "timestamptz", "account_id": "varchar",
    "record": "varchar", "fetched_at": "timestamptz",
}
RAW_CALL_SCHEMA = pa.schema([
    ("call_id", pa.string()),
    ("started_at", pa.timestamp("us", tz="UTC")),
    ("account_id", pa.string()),
    ("record", pa.string()),
    ("fetched_at", pa.timestamp("us", tz="UTC")),
])


FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)


def call_cursor(
    start: datetime, lag: int, backfill: tuple[datetime, datetime | None] | None,
    row_order: Literal["asc", "desc"] | None = None, open_end: datetime = FAR_FUTURE,
) -> dlt.sources.incremental[datetime]:
    """The incremental on a raw call table's `started_at`, with `call_id` breaking ties.

    A sync starts at the stored cursor minus `lag` (or `start` the first time). A backfill
    is a closed window `[start, end)`: an end value keeps dlt from reading or moving the
    stored cursor, so one without `--end` runs to `open_end` (default: beyond any call).
    """
    common: dict[str, Any] = {"row_order": row_order, "on_cursor_value_missing": "include",
                              "primary_key": "call_id"}
    if backfill:
        return dlt.sources.incremental("started_at", initial_value=backfill[0],
                                       end_value=backfill[1] or open_end, **common)
    return dlt.sources.incremental("started_at", initial_value=start, lag=lag, **common)


class Paginator(Protocol):
    has_next_page: bool

    def init_request(self, params: dict[str, Any]) -> None: ...

    def update_state(self, body: Any, records: list[Any]) -> None: ...

    def update_request(self, params: dict[str, Any]) -> str | None:
        """Set the next page's params; return a full URL to fetch instead, if any."""
        ...


def walk(
    http: Http, path: str, params: dict[str, Any], paginator: Paginator,
    records_of: Callable[[Any], list[Any]],
) -> Iterator[list[Any]]:
    """GET `path` page by page, yielding each page's records as the API returned them."""
    paginator.init_request(params)
    target: str = path
    query: dict[str, Any] | None = params
    while True:
        body = http.get_json(target, query)
        http.meter.pages += 1
        records = records_of(body)
        yield records
        paginator.update_state(body, records)
        if not paginator.has_next_page:
            return
        url = paginator.update_request(params)
        target, query = (url, None) if url else (path, params)


TIMESTAMP = pa.timestamp("us", tz="UTC")
_EPOCH = pa.scalar(0, TIMESTAMP)


def parse_timestamps(values: list[Any]) -> pa.Array:
    """`parse_timestamp` over a page: in Arrow's C++ when every value is a zoned ISO
    string (the usual page), else value by value in Python."""
    if values and all(type(v) is str for v in values):
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
    ids, stamps, texts = [], [], []
    for record in records:
        fields = record if isinstance(record, dict) else {}
        key = call_id(fields)
        ids.append(None if key is None or key == "" else str(key))
        stamps.append(started_at(fields))
        texts.append(orjson.dumps(record).decode())
    n = len(records)
    starts = parse_timestamps(stamps)
    return pa.table([
        pa.array(ids, pa.string()),
        starts,
        pa.array([account_id] * n, pa.string()),
        pa.array(texts, pa.string()),
        pa.array([fetched_at] * n, pa.timestamp("us", tz="UTC")),
    ], schema=RAW_CALL_SCHEMA)
