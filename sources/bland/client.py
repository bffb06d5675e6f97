"""The only code that talks to Bland: auth header, envelope, the `before` page walk."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pyarrow as pa

from sources._http import ConfigError, HostBoundAuth, Http, Meter, ProviderError, RetryPolicy
from sources._pages import data_list, raw_calls_table, reaches_before, walk
from sources.bland import settings

SLUG = "bland"
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
calls_of = data_list(SLUG, settings.CALLS_PATH, "data", "calls")  # a call-log page's records


class BeforeCursorPaginator:
    """Bland's newest-first walk: `before=<call_id of the last record>` until a short page."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.has_next_page = True
        self._before: str | None = None

    def init_request(self, params: dict[str, Any]) -> None:
        params["limit"] = self.limit

    def update_state(self, body: Any, records: list[Any]) -> None:
        ids = [r.get("call_id") for r in records if isinstance(r, dict) and r.get("call_id")]
        if len(records) < self.limit or not ids:
            self.has_next_page = False
        else:
            self._before = str(ids[-1])

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
    ) -> Iterator[list[Any]]:
        """Pages of one number's SIP call log, newest first, as the API returns them,
        up to the first page that reaches back before `since` (`tally`: the sync
        window's pages, not a re-read for unfinished calls)."""
        yield from walk(self.http, settings.CALLS_PATH, {"phone_number": phone_number},
                        BeforeCursorPaginator(self.page_size), calls_of,
                        last=reaches_before(settings.CURSOR_FIELD, since), tally=tally)

    def sip_config(self, phone_number: str) -> dict[str, Any]:
        """`{"inbound": {...} | None, "outbound": {...} | None}` for one number."""
        body = self.http.get_json(settings.CONFIG_PATH, {"phone_number": phone_number})
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            raise ProviderError(SLUG, f"{settings.CONFIG_PATH}: unexpected response shape")
        return data



def calls_table(records: list[Any], phone_number: str) -> pa.Table:
    """One page as a raw Arrow table: `call_id`, `started_at`, the whole record as JSON."""
    return raw_calls_table(records, lambda r: r.get(settings.ID_FIELD),
                           lambda r: r.get(settings.CURSOR_FIELD), phone_number)


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
