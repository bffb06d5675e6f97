"""The only code that talks to Unpod: auth headers, envelope, the `next`/page-number walk."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pyarrow as pa

from sources._config import where
from sources._http import (
    ConfigError,
    HostBoundAuth,
    Http,
    Meter,
    ProviderError,
    RetryPolicy,
    same_origin,
)
from sources._native import PageShape, records_table
from sources._pages import numbered_pages, reaches_before, reader, walk
from sources._time import iso_z
from sources.unpod import settings

SLUG = "unpod"
HANDLE = re.compile(r"^[!-~]{1,200}$")  # visible ASCII, no spaces: it goes in a header
INVALID_PAGE = "invalid page"

# The contract's id: `id` (not an object or list, not blank), else
# `creation_time|source_number|destination_number` joined as text (a missing number is
# empty); a record with neither an `id` nor a `creation_time` has no id (staging rejects it).
_GIVEN = f"x.{settings.ID_FIELD}"
_CREATED = f"x.{settings.CURSOR_FIELD}"

PAGE = PageShape(
    SLUG, settings.CALLS_PATH, ("data",),
    tuple(k for k in settings.KEY_FIELDS if k != settings.CURSOR_FIELD),
    cursors=(settings.CURSOR_FIELD,), envelope=("count", "next"), typed=(settings.ID_FIELD,),
    call_id=f"""case
        when json_type({_GIVEN}) not in ('NULL', 'OBJECT', 'ARRAY')
             and trim({_GIVEN} ->> '$') <> '' then {_GIVEN} ->> '$'
        when trim(coalesce({_CREATED}, '')) = '' then null
        else concat_ws('|', {", ".join(f"coalesce(x.{k}, '')"
                                        for k in settings.KEY_FIELDS)}) end""")


class NextOrPageNumberPaginator:
    """Unpod's newest-first walk: follow `next` where the API gives one on our own origin,
    else ask for `page=n+1` until every one of `count` records has been seen.

    - `next` present and null (or empty): the API says this was the last page.
    - `next` pointing at another scheme, host or port (a hostile or misconfigured link),
      or at a URL already fetched: ignored; the walk goes on by page number, so the
      credential never leaves the configured origin and a looping link cannot trap it.
    - Page numbers: done once the records seen reach `count` (robust to a server that
      silently serves fewer than `page_size` per page), or at an empty page; without a
      usable `count`, at the first page shorter than `page_size`.
    """

    def __init__(self, page_size: int, base_url: str) -> None:
        self.page_size = page_size
        self.base_url = base_url
        self.page = 1
        self.seen = 0
        self.has_next_page = True
        self.count: int | None = None
        self.per_page = 0
        self._linked = False
        self._next: str | None = None
        self._fetched: set[str] = set()

    def init_request(self, params: dict[str, Any]) -> None:
        params["page"] = self.page
        params["page_size"] = self.page_size

    def update_state(self, body: Any, records: pa.Table) -> None:
        self._next = None
        self.seen += len(records)
        envelope = body if isinstance(body, dict) else {}
        if self.page == 1:
            self.per_page = len(records)  # the server's page size (it may cap ours)
        count = envelope.get("count")
        self.count = count if isinstance(count, int) and not isinstance(count, bool) else None
        self._linked = "next" in envelope
        if not records:
            self.has_next_page = False
            return
        if self._linked:
            link = envelope.get("next")
            if link is None or link == "":
                self.has_next_page = False
                return
            if (isinstance(link, str) and same_origin(link, self.base_url)
                    and link not in self._fetched):
                self._next = link
                return
        if self.count is not None:
            self.has_next_page = self.seen < self.count
        else:
            self.has_next_page = len(records) >= self.page_size

    @property
    def api_count(self) -> int | None:
        """How many records the API says the filtered log holds (`count`)."""
        return self.count

    def pages_after(self, params: dict[str, Any], n: int) -> list[dict[str, Any]]:
        """Params of up to `n` pages after the one `params` names, where the walk goes by
        page number (the API gives no `next` link) and `count` says they exist."""
        if self._linked or self.count is None or not self.per_page:
            return []
        return numbered_pages(params, self.page, n, self.count, self.per_page)

    def update_request(self, params: dict[str, Any]) -> str | None:
        self.page += 1
        params["page"] = self.page
        if self._next:
            self._fetched.add(self._next)
        return self._next


class UnpodClient:
    """Unpod's call-log endpoint over one `Http` session."""

    def __init__(self, http: Http, org_handle: str,
                 page_size: int = settings.PAGE_SIZE) -> None:
        self.http = http
        self.org_handle = org_handle
        self.page_size = page_size

    def call_log_pages(
        self, start: datetime | None = None, end: datetime | None = None, tally: bool = True,
    ) -> Iterator[pa.Table]:
        """Pages of call logs created in `[start, end)`, newest first, as raw tables.

        `start`/`end` go out as the documented `start_date`/`end_date` filters; records
        outside them (a server that ignores or rounds the filters) are left to the caller,
        and a page reaching back before `start` is the last one read.
        A 400 "Invalid page." past the first page means the log ended under the walk.
        `tally`: these are the sync window's pages (counted against `count`), not a
        re-read for unfinished calls.
        """
        params: dict[str, Any] = {}
        if start is not None:
            params["start_date"] = iso_z(start)
        if end is not None:
            params["end_date"] = iso_z(end)
        paginator = NextOrPageNumberPaginator(self.page_size, self.http.base_url)
        try:
            yield from walk(self.http, settings.CALLS_PATH, params, paginator,
                            reader(PAGE, self.org_handle),
                            last=reaches_before("started_at", start), tally=tally)
        except ProviderError as exc:
            if exc.status == 400 and paginator.page > 1 and INVALID_PAGE in str(exc).lower():
                return
            raise



def call_id(record: Any) -> str | None:
    """The contract's id of one record, as the page reader gives it (`PAGE`)."""
    value = records_table(PAGE, [record], None).column("call_id")[0].as_py()
    return None if value is None else str(value)


def calls_table(records: list[Any], org_handle: str) -> pa.Table:
    """Records in hand as a raw Arrow table: `call_id`, `started_at` (creation_time), the
    record as JSON."""
    return records_table(PAGE, records, org_handle)


def connect(
    api_token: str, org_handle: str, base_url: str, policy: RetryPolicy | None = None,
    meter: Meter | None = None,
) -> Http:
    """An `Http` session for Unpod: `Authorization: Token <token>` and `Org-Handle`,
    both bound to the configured origin."""
    auth = HostBoundAuth({"Authorization": f"Token {api_token}", "Org-Handle": org_handle},
                         base_url)
    return Http(SLUG, base_url, auth=auth, policy=policy, meter=meter)


def check_org_handle(org_handle: object) -> str:
    """The configured org handle (the organization's `domain_handle`), or a `ConfigError`."""
    key = where(SLUG, "org_handle")
    if not isinstance(org_handle, str) or not org_handle.strip():
        raise ConfigError(SLUG, f"set {key} to your organization's domain handle")
    handle = org_handle.strip()
    if not HANDLE.match(handle):
        raise ConfigError(SLUG, f"{key}: {handle!r} is not an organization handle "
                          "(visible ASCII characters without spaces)")
    return handle
