"""Unpod: the organization's call logs (`GET call-logs/`), one org handle per source.

`call_logs` is incremental on `creation_time` (parsed into the raw `started_at` column):
the lag-applied cursor goes out as the API's `start_date` filter, so a sync with nothing
new reads one page. Pages come newest first; the walk also ends at the first page below
the cursor should the server ignore the filter. Raw history is
appended; staging deduplicates on `call_id` (`id`, else creation time and numbers).
Unpod has no by-id endpoint: while calls are unfinished (`unfinished`), the log is read
again over the span of their creation times by `call_logs_followed`, which has no
cursor, into the same table: the span of those the sync's own walk did not load again.
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
from sources._pages import batched, call_cursor
from sources.unpod import settings
from sources.unpod.client import (
    UnpodClient,
    check_org_handle,
    connect,
)

SLUG = "unpod"


@dlt.source(name=SLUG, section=SLUG, max_table_nesting=0)
def unpod_source(
    api_token: str = dlt.secrets.value,
    org_handle: str = dlt.config.value,
    base_url: str = settings.DEFAULT_BASE_URL,
    start_date: Any = None,
    # typed Any so that a malformed value reaches the checks below (which name the key)
    # instead of failing in dlt's coercion with a traceback
    lookback: Any = None,
    page_size: Any = None,
    backfill: tuple[datetime, datetime | None] | None = None,
    requests_per_second: Any | None = dlt.config.value,
    max_attempts: Any | None = dlt.config.value,
    timeout_seconds: Any | None = dlt.config.value,
    max_response_bytes: Any | None = dlt.config.value,
    meter: Meter | None = None,
    max_follow_seconds: Any = None,
    unfinished: Sequence[Unfinished] | None = None,
    clock: Callable[[], datetime] | None = None,
) -> Sequence[DltResource]:
    """Unpod's call logs for one organization.

    Args:
        api_token: Unpod API token, sent as `Authorization: Token <token>`.
        org_handle: The organization's domain handle, sent as the `Org-Handle` header.
        base_url: API root, `https://unpod.dev/api/v2/platform/` unless pointed elsewhere.
        start_date: Where the first sync begins (ISO date or datetime). Default 30 days ago.
        lookback: Seconds re-read behind the cursor on every sync. Default 3600.
        page_size: Records per page requested (1 to 100). Default 100.
        backfill: `(start, end)` window to reload without moving the cursor.
        requests_per_second: At most this many requests start per second. Default: no cap.
        max_attempts: Tries per request (transient failures are retried). Default 5.
        timeout_seconds: Per request. Default 30.
        max_response_bytes: A larger response is cut off as an error. Default 64 MiB.
        meter: Counts pages and requests for the sync summary.
        max_follow_seconds: How long after its start an unfinished call is still
            fetched again. Default 86400.
        unfinished: Calls whose last load left them unfinished (ignored on a backfill).
        clock: Now, for `max_follow_seconds`; the wall clock unless pinned.

    Returns:
        The `call_logs` resource, and `call_logs_followed` when there are calls to follow.
    """
    token = check_secret(SLUG, "api_token", api_token)
    handle = check_org_handle(org_handle)
    url = check_base_url(SLUG, base_url)
    policy = check_http(SLUG, requests_per_second, max_attempts, timeout_seconds,
                        max_response_bytes)
    start = check_start_date(SLUG, start_date)
    lag = check_lookback(SLUG, lookback)
    size = check_page_size(SLUG, settings.PAGE_SIZE if page_size is None else page_size,
                           settings.MAX_PAGE_SIZE)
    client = UnpodClient(connect(token, handle, url, policy, meter), handle, page_size=size)
    began = now(clock)
    follow = followed(SLUG, unfinished, max_follow_seconds, began, backfill)
    reread = Reread(follow)
    resources = [_call_logs(client, call_cursor(start, lag, backfill, "desc", began), reread)]
    if follow:
        resources.append(call_logs_followed(client, follow, reread))
    return resources


def _call_logs(client: UnpodClient, incremental: dlt.sources.incremental[datetime],
               reread: Reread) -> DltResource:
    """The `call_logs` resource, `incremental` its cursor (the default argument);
    `reread` notes the followed calls it loads."""

    @dlt.resource(name="call_logs", write_disposition="append")
    def call_logs(cursor: dlt.sources.incremental[datetime] = incremental
                  ) -> Iterator[pa.Table]:
        """The organization's call logs, page by page, newest first.

        Args:
            cursor: The bound incremental on `started_at` (creation time): its
                lag-applied `start_value` (and a backfill's `end_value`) become the API's
                `start_date` (and `end_date`) filters.
        """
        tables = batched(client.call_log_pages(cursor.start_value, cursor.end_value))
        yield from reread.watch(tables, cursor.start_value, cursor.end_value)

    return call_logs()


@dlt.resource(name="call_logs_followed", table_name="call_logs", write_disposition="append")
def call_logs_followed(client: UnpodClient, calls: list[Unfinished],
                       reread: Reread | None = None) -> Iterator[pa.Table | None]:
    """The call logs created from the oldest to the newest unfinished call, kept whole
    (no cursor: the incremental of `call_logs` never moves because of these); with
    `reread`, after the walk, over the calls it did not load again (nothing if none)."""
    yield from read_back(calls, reread,
                         lambda oldest, newest: client.call_log_pages(oldest, newest, tally=False))
