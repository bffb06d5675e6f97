"""SIPSIM (API v2): the call list, authorized by a bearer token or OAuth client credentials.

`calls` is incremental on `started_at` (`start_time`, else `registration_time`). The
API's required `start_time` filter carries the cursor's lag-applied start (less a small
slack: the server filters on `registration_time`), so a sync reads only the calls of its
window, whatever order the pages come in. Raw history is appended; staging keeps the
newest fetch of each call. Unfinished calls (`unfinished`) are fetched again by id
(`GET calls/{id}`) into the same table, by `calls_followed`, which has no cursor: those
the sync's own walk did not load again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

import dlt
import pyarrow as pa
from dlt.common.typing import TSecretStrValue
from dlt.sources import DltResource

from sources._config import (
    check_base_url,
    check_http,
    check_lookback,
    check_page_size,
    check_start_date,
)
from sources._follow import Reread, Unfinished, followed, now
from sources._http import Meter
from sources._pages import batched, call_cursor
from sources.sipsim import settings
from sources.sipsim.client import (
    SipsimClient,
    calls_table,
    check_credentials,
    connect,
)

SLUG = "sipsim"


@dlt.source(name=SLUG, section=SLUG, max_table_nesting=0)
def sipsim_source(
    access_token: TSecretStrValue | None = None,
    client_id: TSecretStrValue | None = None,
    client_secret: TSecretStrValue | None = None,
    base_url: str = settings.DEFAULT_BASE_URL,
    token_url: str = settings.DEFAULT_TOKEN_URL,
    start_date: Any = None,
    lookback: int | None = None,
    page_size: int = settings.PAGE_SIZE,
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
    """SIPSIM's call list, and the unfinished calls fetched again by id.

    Args:
        access_token: A bearer token (not renewed: it lasts as long as SIPSIM made it).
        client_id: OAuth client id; with `client_secret` it wins over `access_token`.
        client_secret: OAuth client secret, posted to `token_url` only.
        base_url: API root, `https://app.sipsim.com/api/v2` unless pointed at a simulator.
        token_url: OAuth token endpoint, `https://app.sipsim.com/oauth/token` by default.
        start_date: Where the first sync begins (ISO date or datetime). Default 30 days ago.
        lookback: Seconds re-read behind the cursor on every sync. Default 3600.
        page_size: Records per page requested (`limit`, 20..1000).
        backfill: `(start, end)` window to reload without moving the cursor (end: now).
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
        The `calls` resource, and `calls_followed` when there are calls to follow.
    """
    credentials = check_credentials(access_token, client_id, client_secret)
    url = check_base_url(SLUG, base_url)
    policy = check_http(SLUG, requests_per_second, max_attempts, timeout_seconds,
                        max_response_bytes)
    token = check_base_url(SLUG, token_url, key="token_url")
    start = check_start_date(SLUG, start_date)
    lag = check_lookback(SLUG, lookback)
    size = check_page_size(SLUG, page_size, settings.MAX_PAGE_SIZE,
                           settings.MIN_PAGE_SIZE)
    client = SipsimClient(connect(credentials, url, token, policy, meter), page_size=size)
    began = now(clock)
    follow = followed(SLUG, unfinished, max_follow_seconds, began, backfill)
    reread = Reread(follow)
    resources = [_calls(client, call_cursor(start, lag, backfill, now=began), reread)]
    if follow:
        resources.append(calls_followed(client, follow, reread))
    return resources


def _calls(client: SipsimClient, incremental: dlt.sources.incremental[datetime],
           reread: Reread) -> DltResource:
    """The `calls` resource, `incremental` its cursor (dlt's idiom: the default argument,
    for which dlt passes the bound one); `reread` notes the followed calls it loads."""

    @dlt.resource(name="calls", write_disposition="append")
    def calls(cursor: dlt.sources.incremental[datetime] = incremental) -> Iterator[pa.Table]:
        """Every call registered in the cursor's window, page by page, in the API's order.

        Args:
            cursor: The bound incremental: its lag-applied `start_value` is sent as the
                `start_time` filter and its `end_value` (a backfill's end) as `end_time`.
        """
        since = cursor.start_value
        assert since is not None, "the incremental always has an initial value"
        tables = batched(client.call_pages(since, cursor.end_value))
        yield from reread.watch(tables, since, cursor.end_value)

    return calls()


@dlt.resource(name="calls_followed", table_name="calls", write_disposition="append")
def calls_followed(client: SipsimClient, calls: list[Unfinished], reread: Reread | None = None
                   ) -> Iterator[pa.Table | None]:
    """The current record of each unfinished call, fetched by id (no cursor: the
    incremental of `calls` never moves because of these); with `reread`, after the walk,
    only of the calls it did not load again."""
    if reread is not None:
        calls = yield from reread.unseen(calls)
    yield calls_table(client.calls_by_id([call.call_id for call in calls]))
