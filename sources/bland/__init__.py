"""Bland AI: SIP call logs (one partition per configured phone number) and SIP config.

`sip_calls` is incremental on `started_at` (newest-first pages, so the walk stops at the
first page older than the cursor minus `lookback`) and appends raw history that staging
deduplicates on `call_id`. `sip_configs` is replaced on every sync, credentials dropped.
Bland has no by-id endpoint for SIP calls: a number with unfinished calls (`unfinished`)
is read again back to the oldest of them by `sip_calls_followed_<number>`, which has no
cursor, into the same table.
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
from sources._follow import Unfinished, followed, now, spans
from sources._http import Meter
from sources._pages import batched, call_cursor, dlt_columns
from sources._secrets import drop_credentials
from sources.bland import settings
from sources.bland.client import BlandClient, check_phone_numbers, connect

SLUG = "bland"


@dlt.source(name=SLUG, section=SLUG, max_table_nesting=0)
def bland_source(
    api_key: str = dlt.secrets.value,
    phone_numbers: list[str] = dlt.config.value,
    base_url: str = settings.DEFAULT_BASE_URL,
    start_date: Any = None,
    lookback: Any = None,
    page_size: Any = settings.PAGE_SIZE,
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
    """Bland's SIP call logs and SIP configuration.

    Args:
        api_key: Bland API key, sent as the bare `authorization` header.
        phone_numbers: E.164 numbers whose SIP logs and config are loaded.
        base_url: API root, `https://api.bland.ai` unless pointed at a simulator.
        start_date: Where the first sync begins (ISO date or datetime). Default 30 days ago.
        lookback: Seconds re-read behind the cursor on every sync. Default 3600.
        page_size: Records per page requested.
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
        One `sip_calls` resource per phone number, one `sip_calls_followed_<number>` per
        number with calls to follow, and `sip_configs`.
    """
    key = check_secret(SLUG, "api_key", api_key)
    numbers = check_phone_numbers(phone_numbers)
    url = check_base_url(SLUG, base_url)
    policy = check_http(SLUG, requests_per_second, max_attempts, timeout_seconds,
                        max_response_bytes)
    start = check_start_date(SLUG, start_date)
    lag = check_lookback(SLUG, lookback)
    size = check_page_size(SLUG, page_size, settings.MAX_PAGE_SIZE)
    client = BlandClient(connect(key, url, policy, meter), page_size=size)
    began = now(clock)
    follow = spans(followed(SLUG, unfinished, max_follow_seconds, began, backfill))
    resources = [_sip_calls(client, number, call_cursor(start, lag, backfill, "desc", began))
                 for number in numbers]
    resources += [_sip_calls_followed(client, number, follow[number][0])
                  for number in numbers if number in follow]
    resources.append(sip_configs(client, numbers))
    return resources


def _sip_calls_followed(client: BlandClient, phone_number: str, oldest: datetime
                        ) -> DltResource:
    """One number's log read again back to its oldest unfinished call (no cursor)."""
    return dlt.resource(
        sip_calls_followed, name=f"sip_calls_followed_{phone_number.lstrip('+')}",
        table_name="sip_calls", write_disposition="append", parallelized=True,
    )(client, phone_number, oldest)


def sip_calls_followed(client: BlandClient, phone_number: str, oldest: datetime
                       ) -> Iterator[pa.Table]:
    """Every record of one number's log from the newest back to the first page reaching
    before `oldest`, kept whole: the unfinished calls among them are followed."""
    pages = client.sip_call_pages(phone_number, oldest, tally=False)
    yield from batched(pages)


def _sip_calls(client: BlandClient, phone_number: str,
               incremental: dlt.sources.incremental[datetime]) -> DltResource:
    """The `sip_calls` resource of one phone number (its own cursor in dlt state)."""

    @dlt.resource(name=f"sip_calls_{phone_number.lstrip('+')}", table_name="sip_calls",
                  write_disposition="append", parallelized=True)  # numbers read concurrently
    def sip_calls(cursor: dlt.sources.incremental[datetime] = incremental
                  ) -> Iterator[pa.Table]:
        """One phone number's SIP call log, newest first, in tables of many pages.

        The walk stops at the first page reaching before the bound incremental's
        lag-applied start, so a sync with nothing new reads one page.
        """
        pages = client.sip_call_pages(phone_number, cursor.start_value)
        yield from batched(pages)

    return sip_calls()


@dlt.resource(
    name="sip_configs", write_disposition="replace",
    columns=dlt_columns(settings.RAW_COLUMNS["sip_configs"]),
)
def sip_configs(client: BlandClient, phone_numbers: list[str]) -> Iterator[dict[str, Any]]:
    """One row per phone number and configured direction; credential keys never kept."""
    for number in phone_numbers:
        for direction, config in client.sip_config(number).items():
            if isinstance(config, dict):
                yield drop_credentials({**config, "phone_number": number,
                                        "direction": config.get("direction") or direction})
