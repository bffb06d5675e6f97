"""The only code that talks to Bland: auth header, envelope, the `before` page walk."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pyarrow as pa

from sources._http import ConfigError, HostBoundAuth, Http, Meter, ProviderError, RetryPolicy
from sources._native import PageShape, records_table
from sources._pages import reaches_before, reader, walk
from sources.bland import settings

SLUG = "bland"
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
# a call-log page: `data.calls`; the id is `call_id` as text (empty: none)
PAGE = PageShape(SLUG, settings.CALLS_PATH, ("data", "calls"), (settings.ID_FIELD,),
                 call_id=f"nullif(x.{settings.ID_FIELD}, '')",
                 cursors=(settings.CURSOR_FIELD,))


class BeforeCursorPaginator:
    """Bland's newest-first walk: `before=<call_id of the last record>` until a short page."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.has_next_page = True
        self._before: str | None = None

    def init_request(self, params: dict[str, Any]) -> None:
        params["limit"] = self.limit

    def update_state(self, body: Any, records: pa.Table) -> None:
        ids = records.column("call_id").drop_null()
        if records.num_rows < self.limit or not len(ids):
            self.has_next_page = False
        else:
            self._before = ids[-1].as_py()

    def update_request(self, params: dict[str, Any]) -> str | None:
        params["before"] = self._before
        return None


class BlandClient:
    """Bland's SIP endpoints over one `Http` session."""

    def __init__(self, http: Http, page_size: int = settings.PAGE_SIZE) -> None:
        self.http = http
        self.page_size = page_size

    def sip_call_pages(
        self, phone_number: str, since: datetime | None = None, tally: bool = True,
    ) -> Iterator[pa.Table]:
        """Pages of one number's SIP call log, newest first, as raw tables, up to the
        first page that reaches back before `since` (`tally`: the sync window's pages,
        not a re-read for unfinished calls)."""
        yield from walk(self.http, settings.CALLS_PATH, {"phone_number": phone_number},
                        BeforeCursorPaginator(self.page_size), reader(PAGE, phone_number),
                        last=reaches_before("started_at", since), tally=tally)

    def sip_config(self, phone_number: str) -> dict[str, Any]:
        """`{"inbound": {...} | None, "outbound": {...} | None}` for one number."""
        body = self.http.get_json(settings.CONFIG_PATH, {"phone_number": phone_number})
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            raise ProviderError(SLUG, f"{settings.CONFIG_PATH}: unexpected response shape")
        return data



def calls_table(records: list[Any], phone_number: str) -> pa.Table:
    """Records in hand as a raw Arrow table: `call_id`, `started_at`, the record as JSON."""
    return records_table(PAGE, records, phone_number)


def connect(
    api_key: str, base_url: str, policy: RetryPolicy | None = None, meter: Meter | None = None,
) -> Http:
    """An `Http` session for Bland: the bare key in the `authorization` header."""
    return Http(SLUG, base_url, auth=HostBoundAuth({"authorization": api_key}, base_url),
                policy=policy, meter=meter)


def check_phone_numbers(phone_numbers: object) -> list[str]:
    """The configured numbers, each E.164, or a `ConfigError` naming the bad one."""
    where = "sources.bland.phone_numbers (env SOURCES__BLAND__PHONE_NUMBERS)"
    if isinstance(phone_numbers, str):
        phone_numbers = [p.strip() for p in phone_numbers.split(",") if p.strip()]
    if not isinstance(phone_numbers, list | tuple) or not phone_numbers:
        raise ConfigError(SLUG, f"set {where} to a list of E.164 numbers, "
                          "e.g. [\"+14150000000\"]")
    for number in phone_numbers:
        if not isinstance(number, str) or not E164.match(number):
            raise ConfigError(SLUG, f"{where}: {number!r} is not an E.164 number "
                              "(+ then 7 to 15 digits, e.g. +14150000000)")
    return list(phone_numbers)
