"""The only code that talks to SIPSIM: OAuth bearer auth, the envelope, the page-token walk."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pyarrow as pa

from sources._config import check_secret, where
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
from sources._pages import reader, walk
from sources._time import iso_z
from sources.sipsim import settings

SLUG = "sipsim"
log = logging.getLogger("callsync.sipsim")
NO_AUTH = httpx.Auth()  # the token request carries its credentials in the form, no header
MAX_401_BODY = 64 * 1024  # a 401 body is read (to see whether the token expired) up to this
# The contract's id: `id` as text (an integer in the field table, a string in a guide; a
# whole float as its integer); `started_at`: `start_time`, else `registration_time`.
_ID = f"x.{settings.ID_FIELD}"
PAGE = PageShape(
    SLUG, settings.CALLS_PATH, ("data",), (), cursors=settings.CURSOR_FIELDS,
    typed=(settings.ID_FIELD,),
    envelope=("pagination",),
    call_id=f"""case json_type({_ID})
        when 'VARCHAR' then nullif({_ID} ->> '$', '')
        when 'DOUBLE' then if({_ID}::double = floor({_ID}::double) and isfinite({_ID}::double),
                              try_cast({_ID}::double as hugeint)::varchar, {_ID}::varchar)
        when 'BOOLEAN' then null when 'NULL' then null when 'OBJECT' then null
        when 'ARRAY' then null else {_ID}::varchar end""")


class PageTokenPaginator:
    """SIPSIM's keyset walk: `page=<pagination.page>` while `pagination.has_more`.

    The token is opaque (base64 of the last id, as the docs' sample shows); the walk does
    not depend on the order the server returns records in.
    """

    envelope_only = True  # reads `len(records)` only: the walk parses records in batches

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.has_next_page = True
        self._token: str | None = None
        self._seen: set[str] = set()

    def init_request(self, params: dict[str, Any]) -> None:
        params["limit"] = self.limit

    def update_state(self, body: Any, records: pa.Table) -> None:
        pagination = body.get("pagination") if isinstance(body, dict) else None
        if not isinstance(pagination, dict):
            self.has_next_page = False  # a list without pagination is one page
            return
        token = pagination.get("page")
        token = token if isinstance(token, str) and token else None
        has_more = pagination.get("has_more")
        if has_more is None:
            has_more = token is not None
        if not has_more:
            self.has_next_page = False
            return
        if token is None:
            raise ProviderError(SLUG, f"{settings.CALLS_PATH}: pagination.has_more is true "
                                "but no pagination.page token was given")
        if token in self._seen:
            raise ProviderError(SLUG, f"{settings.CALLS_PATH}: the same page token came "
                                "back twice; stopping instead of looping")
        self._seen.add(token)
        self._token = token

    def update_request(self, params: dict[str, Any]) -> str | None:
        params["page"] = self._token
        return None


@dataclass(frozen=True)
class Credentials:
    """A static access token, or an OAuth client (id + secret). Never printed."""

    access_token: str | None = None
    client_id: str | None = None
    client_secret: str | None = None

    def __repr__(self) -> str:
        kind = "client_credentials" if self.client_id else "access_token"
        return f"Credentials({kind}, <redacted>)"

    def values(self) -> list[str]:
        return [v for v in (self.access_token, self.client_id, self.client_secret) if v]


class SipsimAuth(HostBoundAuth):
    """`Authorization: Bearer <token>` for the API's origin, and for no other.

    With a client id and secret, the token comes from `token_url` (OAuth2 client
    credentials, scope `calls.read`) on first use, is renewed `RENEW_BEFORE_SECONDS` before
    it expires, and once more when the API answers 401 saying it expired. With a static
    `access_token` there is nothing to renew: a 401 stands.
    """

    def __init__(
        self, base_url: str, credentials: Credentials, token_url: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__({}, base_url)
        self._base_url = base_url
        self._credentials = credentials
        self._token_url = token_url
        self._clock = clock
        self._renew_at: float | None = None
        self._tokens: set[str] = set()
        self._fetch: Callable[[Mapping[str, str]], Any] | None = None
        self._lock = threading.Lock()
        if credentials.access_token:
            self._use(credentials.access_token)

    @property
    def renews(self) -> bool:
        return bool(self._credentials.client_id)

    def bind(self, fetch: Callable[[Mapping[str, str]], Any]) -> None:
        """How to POST the token form (the session's retrying `request_json`)."""
        self._fetch = fetch

    def secret_values(self) -> list[str]:
        return sorted({*super().secret_values(), *self._tokens, *self._credentials.values()})

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if not same_origin(str(request.url), self._base_url):
            yield request  # a `next` link or redirect elsewhere gets no credential
            return
        if self.renews:
            with self._lock:
                if self._renew_at is None or self._clock() >= self._renew_at:
                    self._renew()
        request.headers.update(self._headers)
        response = yield request
        if self.renews and response.status_code == 401 and _says_expired(response):
            with self._lock:
                self._renew()
            request.headers.update(self._headers)
            yield request

    def _renew(self) -> None:
        assert self._fetch is not None, "SipsimAuth.bind() was not called"
        form = {"grant_type": "client_credentials", "scope": settings.SCOPE,
                "client_id": self._credentials.client_id or "",
                "client_secret": self._credentials.client_secret or ""}
        try:
            body = self._fetch(form)
        except ProviderError as exc:
            if exc.status in (400, 401, 403):
                raise ProviderError(SLUG, f"{exc.args[0].removeprefix(f'{SLUG}: ')}; check "
                                    f"{where(SLUG, 'client_id')} and "
                                    f"{where(SLUG, 'client_secret')}", exc.status) from None
            raise
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise ProviderError(SLUG, "the token endpoint answered without an access_token")
        self._use(token)
        lifetime = _seconds(body.get("expires_in"))
        self._renew_at = self._clock() + lifetime - min(settings.RENEW_BEFORE_SECONDS,
                                                        lifetime / 2)

    def _use(self, token: str) -> None:
        self._tokens.add(token)
        self.set("authorization", f"Bearer {token}")

    def __repr__(self) -> str:
        return f"SipsimAuth(base_url={self._base_url!r}, credentials=<redacted>)"


def _seconds(value: object) -> float:
    """`expires_in` as seconds; the documented 7200 where it is missing or unreadable."""
    try:
        seconds = float(str(value))
    except ValueError:
        return 7200.0
    return max(0.0, seconds)


def _says_expired(response: httpx.Response) -> bool:
    """True when a 401 says the token expired (body or `WWW-Authenticate`)."""
    challenge = response.headers.get("www-authenticate", "")
    if "expired" in challenge.lower():
        return True
    length = response.headers.get("content-length")
    if length is None or not length.isdigit() or int(length) > MAX_401_BODY:
        return False
    return "expired" in response.read().decode("utf-8", "replace").lower()


class SipsimClient:
    """SIPSIM's call list over one `Http` session."""

    def __init__(self, http: Http, page_size: int = settings.PAGE_SIZE) -> None:
        self.http = http
        self.page_size = page_size

    def call_pages(self, since: datetime, until: datetime | None = None) -> Iterator[pa.Table]:
        """Pages of calls registered from `since` - slack up to `until`, as raw tables.

        Args:
            since: The cursor's (lag-applied) start; the server filter is sent
                `FILTER_SLACK_SECONDS` earlier, as it reads `registration_time`.
            until: The window's end (backfill); the server's default (now) without one.
        """
        params: dict[str, Any] = {
            "start_time": iso_z(since - timedelta(seconds=settings.FILTER_SLACK_SECONDS))}
        if until is not None:
            params["end_time"] = iso_z(until)
        yield from walk(self.http, settings.CALLS_PATH, params,
                        PageTokenPaginator(self.page_size), reader(PAGE))


    def calls_by_id(self, call_ids: Iterable[str]) -> list[Any]:
        """The current record of each call (`GET calls/{id}`), for calls followed to their
        end; a call the API does not serve (404) is logged and skipped: it stays unfinished,
        so the next sync asks again until `max_follow_seconds` pass."""
        found = []
        for call_id in call_ids:
            path = settings.CALL_PATH.format(id=quote(call_id, safe=""))
            try:
                body = self.http.get_json(path)
            except ProviderError as exc:
                if exc.status != 404:
                    raise
                log.warning("sipsim: call %s is not served by id (404); skipped this sync, "
                            "it stays in calls_unfinished", call_id)
                continue
            record = body.get("data") if isinstance(body, dict) else None
            if record is None:
                raise ProviderError(SLUG, f"{settings.CALL_PATH}: response has no data")
            self.http.meter.count(pages=1, records=1, followed=1)
            found.append(record)
        return found




def calls_table(records: list[Any]) -> pa.Table:
    """Records in hand (calls fetched by id) as a raw Arrow table: `call_id`,
    `started_at`, the whole record as JSON."""
    return records_table(PAGE, records, None)


def connect(
    credentials: Credentials, base_url: str, token_url: str,
    policy: RetryPolicy | None = None, meter: Meter | None = None,
    clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
) -> Http:
    """An `Http` session for SIPSIM whose auth fetches and renews its bearer token."""
    auth = SipsimAuth(base_url, credentials, token_url, clock)
    http = Http(SLUG, base_url, auth=auth, policy=policy, meter=meter, sleep=sleep)
    auth.bind(lambda form: http.request_json("POST", token_url, data=form, auth=NO_AUTH))
    return http


def check_credentials(
    access_token: object, client_id: object, client_secret: object,
) -> Credentials:
    """Client credentials when either half is set (both then required), else the token."""
    if _given(client_id) or _given(client_secret):
        return Credentials(client_id=check_secret(SLUG, "client_id", client_id),
                           client_secret=check_secret(SLUG, "client_secret", client_secret))
    if _given(access_token):
        return Credentials(access_token=check_secret(SLUG, "access_token", access_token))
    raise ConfigError(SLUG, f"set {where(SLUG, 'access_token')}, or {where(SLUG, 'client_id')}"
                      f" and {where(SLUG, 'client_secret')}, in .dlt/secrets.toml or the "
                      "environment")


def _given(value: object) -> bool:
    return value is not None and str(value).strip() != ""
