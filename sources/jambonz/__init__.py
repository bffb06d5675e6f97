"""jambonz: the account's call history (RecentCalls CDRs) and the calls live right now.

`recent_calls` is incremental on `attempted_at`: every sync asks the server only for
CDRs attempted from the cursor minus `lookback` up to the sync's start (both bounds are
sent), walks the offset pages newest first and appends raw history that staging
deduplicates on the call id. `calls` (live calls) is replaced on every successful sync.
A CDR is written when its call ends, so a CDR is rarely unfinished; one that is
(`unfinished`: a 1xx final status) is read again, over the span of such CDRs' attempt
times, by `recent_calls_followed`, which has no cursor, into the same table: the span of
those the sync's own walk did not load again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

import dlt
import pyarrow as pa
from dlt.sources import DltResource

from sources._config import (
    check_base_url,
    check_http,
    check_lookback,
    check_page_size,
    check_secret,
    check_start_date,
)
from sources._follow import Reread, Unfinished, followed, now, read_back
from sources._http import Meter
from sources._pages import batched, call_cursor, dlt_columns
from sources.jambonz import settings
from sources.jambonz.client import (
    JambonzClient,
    check_account_sid,
    connect,
    live_calls_table,
)

SLUG = "jambonz"


def _columns(table: str) -> dict[str, Any]:
    return dlt_columns(settings.RAW_COLUMNS[table])


@dlt.source(name=SLUG, section=SLUG, max_table_nesting=0)
def jambonz_source(
    api_key: str = dlt.secrets.value,
    account_sid: str = dlt.config.value,
    base_url: str = settings.DEFAULT_BASE_URL,
    start_date: Any = None,
    lookback: int | None = None,
    page_size: int = settings.PAGE_SIZE,
    backfill: tuple[datetime, datetime | None] | None = None,
    requests_per_second: Any | None = dlt.config.value,
    max_attempts: Any | None = dlt.config.value,
    timeout_seconds: Any | None = dlt.config.value,
    max_response_bytes: Any | None = dlt.config.value,
    meter: Meter | None = None,
    clock: Callable[[], datetime] | None = None,
    max_follow_seconds: Any = None,
    unfinished: Sequence[Unfinished] | None = None,
) -> Sequence[DltResource]:
    """jambonz's recent calls (call history) and live calls of one account.

    Args:
        api_key: jambonz API key, sent as `Authorization: Bearer <key>`.
        account_sid: The account whose calls are loaded (a UUID).
        base_url: API root, `https://api.jambonz.cloud/v1` unless self-hosted or simulated.
        start_date: Where the first sync begins (ISO date or datetime). Default 30 days ago.
        lookback: Seconds re-read behind the cursor on every sync. Default 3600.
        page_size: RecentCalls records per page (`count`, 1 to 500).
        backfill: `(start, end)` window to reload without moving the cursor; no end
            means up to the sync's start.
        requests_per_second: At most this many requests start per second. Default: no cap.
        max_attempts: Tries per request (transient failures are retried). Default 5.
        timeout_seconds: Per request. Default 30.
        max_response_bytes: A larger response is cut off as an error. Default 64 MiB.
        meter: Counts pages and requests for the sync summary.
        clock: The sync's start time (the `end` bound sent, and now for
            `max_follow_seconds`); wall clock unless pinned.
        max_follow_seconds: How long after its start an unfinished call is still
            fetched again. Default 86400.
        unfinished: Calls whose last load left them unfinished (ignored on a backfill).

    Returns:
        The `recent_calls` and `calls` (live) resources, and `recent_calls_followed`
        when there are calls to follow.
    """
    key = check_secret(SLUG, "api_key", api_key)
    sid = check_account_sid(account_sid)
    url = check_base_url(SLUG, base_url)
    policy = check_http(SLUG, requests_per_second, max_attempts, timeout_seconds,
                        max_response_bytes)
    start = check_start_date(SLUG, start_date)
    lag = check_lookback(SLUG, lookback)
    count = check_page_size(SLUG, page_size, settings.MAX_PAGE_SIZE)
    window_end = now(clock)
    follow = followed(SLUG, unfinished, max_follow_seconds, window_end, backfill)
    reread = Reread(follow)
    client = JambonzClient(connect(key, url, policy, meter), sid, page_size=count)
    cursor = call_cursor(start, lag, backfill, "desc", window_end)
    resources = [_recent_calls(client, cursor, window_end, reread), live_calls(client)]
    if follow:
        resources.append(recent_calls_followed(client, follow, reread))
    return resources


def _recent_calls(client: JambonzClient, incremental: dlt.sources.incremental[datetime],
                  window_end: datetime, reread: Reread) -> DltResource:
    """The `recent_calls` resource, `incremental` its cursor (the default argument);
    `reread` notes the followed calls it loads."""

    @dlt.resource(name="recent_calls", write_disposition="append",
                  columns=_columns("recent_calls"))
    def recent_calls(cursor: dlt.sources.incremental[datetime] = incremental
                     ) -> Iterator[pa.Table]:
        """The account's CDRs attempted since the cursor (lag applied), page by page.

        The incremental's start and end (a backfill's; on a sync, the sync's start) are
        sent as the server-side `start`/`end` filter, so a sync with nothing new reads
        one page.
        """
        tables = batched(client.recent_call_pages(cursor.start_value,
                                                  cursor.end_value or window_end))
        yield from reread.watch(tables, cursor.start_value, cursor.end_value)

    return recent_calls()


@dlt.resource(name="calls", write_disposition="replace", columns=_columns("calls"))
def live_calls(client: JambonzClient) -> Iterator[pa.Table]:
    """The calls in progress at this sync: replaces the last sync's list (even if empty)."""
    yield live_calls_table(client.live_calls(), client.account_sid)


@dlt.resource(name="recent_calls_followed", table_name="recent_calls",
              write_disposition="append", columns=_columns("recent_calls"))
def recent_calls_followed(client: JambonzClient, calls: list[Unfinished],
                          reread: Reread | None = None) -> Iterator[pa.Table | None]:
    """The CDRs attempted from the oldest to the newest unfinished call, kept whole (no
    cursor: the incremental of `recent_calls` never moves because of these); with
    `reread`, after the walk, over the calls it did not load again (nothing if none)."""
    yield from read_back(
        calls, reread, lambda oldest, newest: client.recent_call_pages(oldest, newest,
                                                                       tally=False))
