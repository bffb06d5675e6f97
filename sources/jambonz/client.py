"""The only code that talks to jambonz: bearer auth, RecentCalls' envelope and offset
pages, and the live Calls list."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pyarrow as pa

from sources._config import where
from sources._http import ConfigError, HostBoundAuth, Http, Meter, ProviderError, RetryPolicy
from sources._native import PageShape, records_table
from sources._pages import numbered_pages, reader, walk
from sources._time import iso_z
from sources.jambonz import settings

SLUG = "jambonz"


def _first_id(fields: tuple[str, ...]) -> str:
    """SQL: the first of `fields` that is present and not empty, as text."""
    return "coalesce(" + ", ".join(f"nullif(x.{f}, '')" for f in fields) + ")"


# a RecentCalls page (either envelope): `call_sid`, else `sip_callid` (`sip_call_id` in the
# swagger): a failed inbound call has no call sid
PAGE = PageShape(SLUG, "RecentCalls", ("data",),
                 settings.RECORD_ID_FIELDS, envelope=("total",),
                 call_id=_first_id(settings.RECORD_ID_FIELDS),
                 cursors=(settings.RECORD_TIME_FIELD,))
# the live Calls list is a bare array: read as `{"data": [...]}`, no timestamps
LIVE = PageShape(SLUG, "Calls", ("data",), settings.LIVE_ID_FIELDS,
                 call_id=_first_id(settings.LIVE_ID_FIELDS))
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)


class OffsetPagePaginator:
    """RecentCalls' pages: `page` 1, 2, ... of `count` records at offset `(page-1)*count`.

    The walk ends when `page * count >= total`, or on an empty or short page. `total` is
    read from either envelope (the server's `{total, page_size, page, data}` with strings,
    or the docs' `{total, batch, page, data}`); the page's size is always `len(data)`.
    """

    envelope_only = True  # reads `len(records)` only: the walk parses records in batches

    def __init__(self, count: int) -> None:
        self.count = count
        self.page = 1
        self.has_next_page = True
        self.total: int | None = None

    def init_request(self, params: dict[str, Any]) -> None:
        self.page = 1
        params["page"] = self.page
        params["count"] = self.count

    def update_state(self, body: Any, records: pa.Table) -> None:
        total = _integer(body.get("total")) if isinstance(body, dict) else None
        self.total = total
        if (not records or len(records) < self.count
                or (total is not None and self.page * self.count >= total)):
            self.has_next_page = False

    @property
    def api_count(self) -> int | None:
        """How many CDRs the API says the window holds (`total`)."""
        return self.total

    def pages_after(self, params: dict[str, Any], n: int) -> list[dict[str, Any]]:
        """Params of up to `n` pages after the one `params` names that `total` says exist."""
        if self.total is None:
            return []
        return numbered_pages(params, self.page, n, self.total, self.count)

    def update_request(self, params: dict[str, Any]) -> str | None:
        self.page += 1
        params["page"] = self.page
        return None


class JambonzClient:
    """jambonz's account-scoped call endpoints over one `Http` session."""

    def __init__(self, http: Http, account_sid: str, page_size: int = settings.PAGE_SIZE
                 ) -> None:
        self.http = http
        self.account_sid = account_sid
        self.page_size = page_size
        self.base_url = public_url(http.base_url)

    def recent_call_pages(self, start: datetime | None, end: datetime, tally: bool = True,
                          ) -> Iterator[pa.Table]:
        """Pages of CDRs attempted in `[start, end]`, newest first, as raw tables (with
        `base_url`, the API root they came from).

        Both bounds are always sent, zoned: the server silently matches nothing for a
        zone-less bound, and a fixed `end` keeps calls that arrive during the walk from
        shifting the offsets (the call id dedupes what shifts anyway). `tally`: these are
        the sync window's pages (counted against `total`), not a re-read for unfinished
        calls.
        """
        path = settings.RECENT_CALLS_PATH.format(account_sid=self.account_sid)
        params: dict[str, Any] = {}
        if start is not None:  # always, in practice: the incremental has an initial value
            params["start"] = iso_z(start, "milliseconds")
        params["end"] = iso_z(end, "milliseconds", round_up=True)
        pages = walk(self.http, path, params, OffsetPagePaginator(self.page_size),
                     reader(PAGE, self.account_sid), tally=tally)
        for page in pages:
            yield with_base_url(page, self.base_url)

    def live_calls(self) -> list[Any]:
        """Every call in progress now (one request: the list has no paging)."""
        path = settings.LIVE_CALLS_PATH.format(account_sid=self.account_sid)
        body = self.http.get_json(path)
        self.http.meter.count(pages=1)  # live calls: not call records of the window
        if not isinstance(body, list):
            raise ProviderError(SLUG, f"{path}: response is not a JSON array")
        return body


def with_base_url(table: pa.Table, base_url: str) -> pa.Table:
    """A RecentCalls raw table plus the API root it came from."""
    return table.append_column("base_url", pa.repeat(pa.scalar(base_url, pa.string()),
                                                      table.num_rows))


def recent_calls_table(records: list[Any], account_sid: str, base_url: str) -> pa.Table:
    """RecentCalls records in hand as the raw call table, plus the API root."""
    return with_base_url(records_table(PAGE, records, account_sid), base_url)


def live_calls_table(records: list[Any], account_sid: str) -> pa.Table:
    """The live calls as one raw table: id, account, whole record, when fetched."""
    table = records_table(LIVE, records, account_sid)
    return table.drop_columns(["started_at"])  # live calls carry no timestamps


def public_url(url: str) -> str:
    """`url` without user info, query or fragment, and without a trailing slash."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def _integer(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def connect(
    api_key: str, base_url: str, policy: RetryPolicy | None = None, meter: Meter | None = None,
) -> Http:
    """An `Http` session for jambonz: `Authorization: Bearer <api key>`, to its host only."""
    return Http(SLUG, base_url,
                auth=HostBoundAuth({"authorization": f"Bearer {api_key}"}, base_url),
                policy=policy, meter=meter)


def check_account_sid(account_sid: object) -> str:
    """The configured account sid (a UUID), or a `ConfigError` naming the key."""
    text = account_sid.strip() if isinstance(account_sid, str) else ""
    if not UUID.match(text):
        raise ConfigError(SLUG, f"{where(SLUG, 'account_sid')}: {account_sid!r} is not an "
                          "account sid (a UUID, e.g. 3fa85f64-5717-4562-b3fc-2c963f66afa6)")
    return text
