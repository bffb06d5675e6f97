"""The only code that talks to Bland: auth header, envelope, the `before` page walk."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
import pyarrow as pa

from sources._http import ConfigError, HostBoundAuth, Http, Meter, ProviderError, RetryPolicy
from sources._time import parse_timestamp
from sources.bland import settings

SLUG = "bland"
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
CALLS_SCHEMA = pa.schema([
    ("call_id", pa.string()),
    ("started_at", pa.timestamp("us", tz="UTC")),
    ("account_id", pa.string()),
    ("record", pa.string()),
    ("fetched_at", pa.timestamp("us", tz="UTC")),
])


class BeforeCursorPaginator:
    """Bland's newest-first walk: `before=<call_id of the last record>` until a short page."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.has_next_page = True
        self._before: str | None = None

    def init_request(self, params: dict[str, Any]) -> None:
        params["limit"] = self.limit

    def update_state(self, records: list[Any]) -> None:
        ids = [r.get("call_id") for r in records if isinstance(r, dict) and r.get("call_id")]
        if len(records) < self.limit or not ids:
            self.has_next_page = False
        else:
            self._before = str(ids[-1])

    def update_request(self, params: dict[str, Any]) -> None:
        params["before"] = self._before


class BlandClient:
    """Bland's SIP endpoints over one `Http` session."""

    def __init__(self, http: Http, page_size: int = settings.PAGE_SIZE) -> None:
        self.http = http
        self.page_size = page_size

    def sip_call_pages(self, phone_number: str) -> Iterator[list[Any]]:
        """Pages of one number's SIP call log, newest first, as the API returns them."""
        paginator = BeforeCursorPaginator(self.page_size)
        params: dict[str, Any] = {"phone_number": phone_number}
        paginator.init_request(params)
        while True:
            body = self.http.get_json(settings.CALLS_PATH, params)
            self.http.meter.pages += 1
            records = calls_of(body)
            yield records
            paginator.update_state(records)
            if not paginator.has_next_page:
                return
            paginator.update_request(params)

    def sip_config(self, phone_number: str) -> dict[str, Any]:
        """`{"inbound": {...} | None, "outbound": {...} | None}` for one number."""
        body = self.http.get_json(settings.CONFIG_PATH, {"phone_number": phone_number})
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            raise ProviderError(SLUG, f"{settings.CONFIG_PATH}: unexpected response shape")
        return data


def calls_of(body: Any) -> list[Any]:
    """The `data.calls` list of a call-log page."""
    data = body.get("data") if isinstance(body, dict) else None
    calls = data.get("calls") if isinstance(data, dict) else None
    if not isinstance(calls, list):
        raise ProviderError(SLUG, f"{settings.CALLS_PATH}: response has no data.calls list")
    return calls


def calls_table(records: list[Any], phone_number: str) -> pa.Table:
    """One page as an Arrow table: typed id and cursor, the whole record kept as JSON."""
    fetched_at = datetime.now(UTC)
    ids, starts, texts = [], [], []
    for record in records:
        fields = record if isinstance(record, dict) else {}
        call_id = fields.get(settings.ID_FIELD)
        ids.append(None if call_id is None or call_id == "" else str(call_id))
        starts.append(parse_timestamp(fields.get(settings.CURSOR_FIELD)))
        texts.append(orjson.dumps(record).decode())
    n = len(records)
    return pa.table([
        pa.array(ids, pa.string()),
        pa.array(starts, pa.timestamp("us", tz="UTC")),
        pa.array([phone_number] * n, pa.string()),
        pa.array(texts, pa.string()),
        pa.array([fetched_at] * n, pa.timestamp("us", tz="UTC")),
    ], schema=CALLS_SCHEMA)


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
