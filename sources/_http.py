"""The one way sources talk HTTP: httpx with timeouts, bounded retries, host-bound auth.

- Credentials are attached by `HostBoundAuth`, only to requests for the configured
  `base_url`'s host and port: a `next` link or redirect elsewhere never receives them.
- 429 waits out `Retry-After` (seconds or HTTP date); 429 without it, 5xx, timeouts,
  dropped connections and unreadable bodies back off exponentially with jitter, a bounded
  number of times. Other 4xx are not retried: they raise `ProviderError` at once.
- Bodies are read up to `max_bytes`; a larger or endless body is cut off as an error.
- Nothing here logs or formats a header value: errors carry the method, path and status.
"""

from __future__ import annotations

import email.utils
import functools
import logging
import random
import ssl
import threading
import time
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
import orjson

log = logging.getLogger("callsync.http")
T = TypeVar("T")

RETRY_STATUSES = {429, 500, 502, 503, 504}
LONG_WAIT_SECONDS = 5.0


class ProviderError(Exception):
    """A provider failed in a way a user must fix or wait out: the message is one line."""

    def __init__(self, provider: str, message: str, status: int | None = None) -> None:
        super().__init__(f"{provider}: {message}")
        self.provider = provider
        self.status = status


class ConfigError(ProviderError):
    """Configuration is missing or malformed; raised before any request."""


class HostBoundAuth(httpx.Auth):
    """Adds credential headers to requests for one host and port, and to no other."""

    def __init__(self, headers: Mapping[str, str], base_url: str) -> None:
        self._headers = dict(headers)
        self._origin = _origin(base_url)

    def set(self, name: str, value: str) -> None:
        self._headers[name] = value

    def secret_values(self) -> list[str]:
        """Every header value and its parts (`Bearer x` -> `x`), for redaction."""
        values = set(self._headers.values())
        values |= {part for v in self._headers.values() for part in v.split()}
        return [v for v in values if len(v) >= 6]

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if _origin(str(request.url)) == self._origin:
            request.headers.update(self._headers)
        yield request

    def __repr__(self) -> str:
        return f"HostBoundAuth(origin={self._origin!r}, headers=<redacted>)"


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port


def same_origin(url: str, base_url: str) -> bool:
    """True when `url` is served by the same scheme, host and port as `base_url`."""
    return _origin(url) == _origin(base_url)


@dataclass
class Meter:
    """Counts of one provider's sync, for progress and the summary: pages and records
    read, requests sent; and, for completeness, what the sync window's walks received
    against what the API said those windows hold.

    Several threads count into one meter (partitions read in parallel, prefetching walks).
    """

    pages: int = 0
    requests: int = 0
    records: int = 0
    received: int = 0  # call records of the sync window's walks (follow-ups not counted)
    followed: int = 0  # call records fetched again for unfinished calls
    _counts: list[int | None] = field(default_factory=list, repr=False, compare=False)
    expected: int | None = None  # call records the API said the walks hold, where it says
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def count(self, pages: int = 0, requests: int = 0, records: int = 0, received: int = 0,
              followed: int = 0) -> None:
        with self._lock:
            self.pages += pages
            self.requests += requests
            self.records += records
            self.received += received
            self.followed += followed

    def window(self, api_count: int | None) -> None:
        """One window walked to its end: what the API said it holds (None: it did not say,
        or the walk stopped before the end the count describes)."""
        with self._lock:
            self._counts.append(api_count)

    @property
    def api_count(self) -> int | None:
        """What the API said every window walked holds; None unless it said so for each."""
        with self._lock:
            counts = list(self._counts)
        if not counts or any(c is None for c in counts):
            return None
        return sum(c for c in counts if c is not None)

    def expect(self, records: int) -> None:
        """A walk's first page said how many records it holds (jambonz `total`, Unpod
        `count`): progress can then estimate what is left."""
        with self._lock:
            self.expected = (self.expected or 0) + records


@dataclass
class RetryPolicy:
    attempts: int = 5
    base_seconds: float = 0.5
    max_seconds: float = 60.0
    timeout_seconds: float = 30.0
    max_bytes: int = 64 * 1024 * 1024
    requests_per_second: float = 0.0  # 0: no cap


class RateCap:
    """Spaces requests so that at most `per_second` start in any second (0: no cap)."""

    def __init__(self, per_second: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._interval = 1.0 / per_second if per_second > 0 else 0.0
        self._next = 0.0
        self._clock = clock
        self._lock = threading.Lock()

    def delay(self) -> float:
        """Seconds to wait before the next request may start (and book its slot)."""
        if not self._interval:
            return 0.0
        with self._lock:
            now = self._clock()
            start = max(now, self._next)
            self._next = start + self._interval
            return start - now


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The one TLS context every client verifies with (httpx's default: certifi's bundle,
    or `SSL_CERT_FILE` / `SSL_CERT_DIR`, read once). Each client building its own loaded
    the bundle again, ~20-40 ms a client, and a sync makes one per provider (twice where
    it follows live calls)."""
    return httpx.create_ssl_context()


class Http:
    """A provider's HTTP session: `get_json` is the only call sources make."""

    def __init__(
        self,
        provider: str,
        base_url: str,
        auth: httpx.Auth | None = None,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        headers: Mapping[str, str] | None = None,
        meter: Meter | None = None,
    ) -> None:
        self.provider = provider
        self.meter = meter or Meter()
        self.base_url = base_url.rstrip("/") + "/"
        self.policy = policy or RetryPolicy()
        self._sleep = sleep
        self._cap = RateCap(self.policy.requests_per_second)
        self._client = httpx.Client(
            auth=auth,
            verify=tls_context(),
            timeout=httpx.Timeout(self.policy.timeout_seconds, connect=10.0),
            follow_redirects=False,
            headers={"accept": "application/json", "user-agent": "callsync", **(headers or {})},
        )

    def __repr__(self) -> str:
        return f"Http(provider={self.provider!r}, base_url={self.base_url!r})"

    def close(self) -> None:
        self._client.close()

    def _secrets(self) -> list[str]:
        auth = self._client.auth
        return auth.secret_values() if isinstance(auth, HostBoundAuth) else []

    def url(self, path: str) -> str:
        return self.base_url + path.lstrip("/")

    def get_json(self, path_or_url: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET and parse JSON, retrying what is transient; `ProviderError` otherwise."""
        return self.request_json("GET", path_or_url, params=params)

    def get_page(self, path_or_url: str, params: Mapping[str, Any] | None,
                 read: Callable[[bytes], T]) -> T:
        """GET a body and `read` it (a page reader: bytes to Arrow, no Python objects per
        record); a `ValueError` from `read` (not JSON) is retried as a bad body."""
        return self.request_json("GET", path_or_url, params=params, parse=read)

    def request_json(
        self, method: str, path_or_url: str, params: Mapping[str, Any] | None = None,
        data: Mapping[str, str] | None = None, auth: httpx.Auth | None = None,
        parse: Callable[[bytes], Any] = orjson.loads,
    ) -> Any:
        url = path_or_url if "://" in path_or_url else self.url(path_or_url)
        where = f"{method} {urlsplit(url).path}"
        last = "no attempt"
        for attempt in range(1, self.policy.attempts + 1):
            self._wait(self._cap.delay(), where)
            self.meter.count(requests=1)
            try:
                status, headers, body = self._send(method, url, params, data, auth)
            except _TooLarge:
                raise ProviderError(self.provider, f"{where}: response larger than "
                                    f"{self.policy.max_bytes} bytes; cut off") from None
            except httpx.TransportError as exc:
                last = redact(_transport_error(exc, url), self._secrets())
                self._backoff(attempt, None, where, last)
                continue
            if status in RETRY_STATUSES:
                last = f"HTTP {status}"
                self._backoff(attempt, headers.get("retry-after") if status == 429 else None,
                              where, last)
                continue
            if 300 <= status < 400:
                raise ProviderError(self.provider, f"{where} answered a redirect (HTTP {status}); "
                                    "not followed: check base_url", status)
            if status >= 400:
                detail = redact(_detail(body), self._secrets())
                raise ProviderError(self.provider, f"{where} answered HTTP {status}"
                                    f"{_hint(status)}{detail}", status)
            try:
                return parse(body)
            except ValueError:  # orjson's JSONDecodeError, a page reader's BodyNotJson
                last = "a body that is not JSON"
                self._backoff(attempt, None, where, last)
        raise ProviderError(self.provider, f"{where} still failing after "
                            f"{self.policy.attempts} attempts (last: {last})"
                            f"{_transport_hint(last)}")

    def _send(
        self, method: str, url: str, params: Mapping[str, Any] | None,
        data: Mapping[str, str] | None, auth: httpx.Auth | None,
    ) -> tuple[int, httpx.Headers, bytes]:
        kwargs: dict[str, Any] = {"params": params, "data": data}
        if auth is not None:
            kwargs["auth"] = auth
        with self._client.stream(method, url, **kwargs) as response:
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > self.policy.max_bytes:
                    raise _TooLarge()
                chunks.append(chunk)
            return response.status_code, response.headers, b"".join(chunks)

    def _backoff(self, attempt: int, retry_after: str | None, where: str, why: str) -> None:
        if attempt >= self.policy.attempts:
            return
        wait = _retry_after_seconds(retry_after)
        if wait is None:
            ceiling = min(self.policy.max_seconds, self.policy.base_seconds * 2 ** (attempt - 1))
            wait = random.uniform(ceiling / 2, ceiling)
        wait = min(wait, self.policy.max_seconds)
        log.info("%s: %s got %s; retry %d/%d in %.1f s", self.provider, where, why,
                 attempt, self.policy.attempts - 1, wait)
        self._wait(wait, where)

    def _wait(self, seconds: float, where: str) -> None:
        if seconds <= 0:
            return
        if seconds >= LONG_WAIT_SECONDS:
            log.warning("%s: waiting %.0f s before %s", self.provider, seconds, where)
        self._sleep(seconds)


def redact(text: str, secrets: list[str]) -> str:
    """`text` with every secret value replaced by `***`."""
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


class _TooLarge(Exception):
    pass


def _retry_after_seconds(value: str | None) -> float | None:
    """`Retry-After` as seconds: a number, or an HTTP date from now; None if absent."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _transport_error(exc: httpx.TransportError, url: str) -> str:
    """`ConnectError connecting to api.example.com:443: [Errno 111] Connection refused`:
    the host and port, never the rest of the URL (user info or a query may hold a key)."""
    _, host, port = _origin(url)
    reason = " ".join(str(exc).split())[:160]
    verb = "connecting to" if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout) \
        else "from"
    return f"{type(exc).__name__} {verb} {host}:{port}" + (f": {reason}" if reason else "")


def _transport_hint(last: str) -> str:
    if " connecting to " in last:
        return "; check base_url and that this machine can reach that host"
    return ""


def _hint(status: int) -> str:
    return {
        400: " (bad request: check the configured values)",
        401: " (the credential was refused: check the configured key)",
        403: " (forbidden: check the key's permissions and the account or org)",
        404: " (not found: check base_url and the account id)",
    }.get(status, "")


def _detail(body: bytes) -> str:
    """A short, credential-free excerpt of an error body: the provider's own message."""
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        text = body[:120].decode("utf-8", "replace").strip()
        return f": {text}" if text and "\n" not in text else ""
    message = _find_message(parsed)
    return f": {message[:160]}" if message else ""


def _find_message(value: Any) -> str | None:
    if isinstance(value, dict):
        for key in ("message", "msg", "error"):
            found = value.get(key)
            if isinstance(found, str):
                return found
        for key in ("errors", "error"):
            if key in value:
                return _find_message(value[key])
    if isinstance(value, list) and value:
        return _find_message(value[0]) if not isinstance(value[0], str) else value[0]
    return None
