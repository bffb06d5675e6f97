"""Loopback HTTP core of the provider simulator.

One `Simulator` serves every provider module on one free port of 127.0.0.1. A provider
module registers routes (method + path pattern) and holds its own seeded data; the core
does the socket, the request log, fault injection (`fail_next`) and JSON responses.
"""

from __future__ import annotations

import logging
import re
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"


@dataclass
class Request:
    """One request as the simulator received it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    provider: str = ""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


FAULTS = ("reset", "truncate", "garbage", "slow", "endless", "huge")


@dataclass
class Response:
    """What the simulator answers; `fault` breaks the answer in one of `FAULTS` ways."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    fault: str | None = None
    delay: float = 0.0

    def encode(self) -> bytes:
        if self.raw is not None:
            return self.raw
        if isinstance(self.body, str):
            return self.body.encode()
        return orjson.dumps(self.body)


Handler = Callable[[Request, dict[str, str]], Response]


@dataclass
class Route:
    provider: str
    method: str
    pattern: re.Pattern[str]
    handler: Handler


class Simulator:
    """A threaded HTTP server on loopback that routes to provider modules."""

    def __init__(self) -> None:
        self.routes: list[Route] = []
        self.requests: list[Request] = []
        self.served: Counter[str] = Counter()  # requests per provider, also when not kept
        # False: count requests without keeping them (a benchmark's millions of pages)
        self.keep_requests = True
        self.providers: dict[str, Any] = {}
        self._faults: list[tuple[str | None, Response]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        # called with every request after it is logged (tests use it to kill a client)
        self.on_request: Callable[[Request], None] | None = None
        # benchmark knobs: seconds added to every answer; requests per second per provider
        # beyond which it answers 429 with Retry-After (0: no limit)
        self.latency = 0.0
        self.rate_limit = 0.0
        self._windows: dict[str, tuple[int, int]] = {}
        self.clock: Callable[[], float] = time.monotonic

    # -- wiring ------------------------------------------------------------
    def add_provider(self, slug: str, provider: Any) -> Any:
        """Register a provider module's object: it adds its routes through `route`."""
        self.providers[slug] = provider
        provider.register(self)
        return provider

    def route(self, provider: str, method: str, path: str, handler: Handler) -> None:
        """Serve `method path` (`{name}` segments become path parameters)."""
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path.rstrip("/"))
        self.routes.append(Route(provider, method, re.compile(f"^{regex}/?$"), handler))

    # -- running -----------------------------------------------------------
    def start(self, port: int = 0) -> Simulator:
        sim = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # headers and body go out in two writes: without TCP_NODELAY a small body
            # waits for the client's delayed ACK (~40 ms a request on Linux loopback)
            disable_nagle_algorithm = True

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                sim._serve(self, "GET")

            def do_POST(self) -> None:  # noqa: N802
                sim._serve(self, "POST")

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return  # the request log is `Simulator.requests`, not stderr

        self._server = _QuietServer((LOOPBACK, port), _Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True)  # poll interval: stop() waits for it
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "simulator not started"
        return f"http://{LOOPBACK}:{self._server.server_address[1]}"

    # -- test helpers ------------------------------------------------------
    def fail_next(
        self, status: int = 500, provider: str | None = None, body: Any = None, times: int = 1,
        headers: dict[str, str] | None = None, fault: str | None = None, delay: float = 0.0,
    ) -> None:
        """Answer the next `times` requests (of `provider`, or any) with `status`.

        `fault` instead breaks the answer: `reset` closes the connection unanswered,
        `truncate` sends half the promised body, `garbage` a 200 that is not JSON, `slow`
        answers after `delay` seconds, `endless` streams without end, `huge` sends 64 MiB.
        """
        assert fault is None or fault in FAULTS, fault
        response = Response(status, body if body is not None else {"error": "injected"},
                            dict(headers or {}), fault=fault, delay=delay)
        with self._lock:
            self._faults.extend([(provider, response)] * times)

    def pending_faults(self) -> int:
        with self._lock:
            return len(self._faults)

    def requests_for(self, provider: str, path_contains: str = "") -> list[Request]:
        with self._lock:
            return [r for r in self.requests
                    if r.provider == provider and path_contains in r.path]

    def clear_log(self) -> None:
        with self._lock:
            self.requests.clear()
            self.served.clear()

    # -- serving -----------------------------------------------------------
    def _match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for route in self.routes:
            m = route.pattern.match(path.rstrip("/") or "/")
            if route.method == method and m:
                return route, m.groupdict()
        return None

    def _limited(self, provider: str) -> Response | None:
        """429 once `provider` has had `rate_limit` requests in the current second."""
        if not self.rate_limit:
            return None
        second = int(self.clock())
        with self._lock:
            window, count = self._windows.get(provider, (second, 0))
            if window != second:
                window, count = second, 0
            self._windows[provider] = (window, count + 1)
        if count + 1 > self.rate_limit:
            return Response(429, {"error": "rate limit exceeded"}, {"Retry-After": "1"})
        return None

    def _take_fault(self, provider: str) -> Response | None:
        with self._lock:
            for i, (who, response) in enumerate(self._faults):
                if who is None or who == provider:
                    del self._faults[i]
                    return response
        return None

    def _serve(self, http: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(http.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        headers = {k.lower(): v for k, v in http.headers.items()}
        length = int(headers.get("content-length") or 0)
        body = http.rfile.read(length) if length else b""
        if body and headers.get("content-type", "").startswith("application/x-www-form"):
            query.update({k: v[-1] for k, v in parse_qs(body.decode()).items()})
        request = Request(method, parts.path, query, headers)
        found = self._match(method, parts.path)
        if found is None:
            response = Response(404, {"error": "not found", "path": parts.path})
        else:
            route, params = found
            request.provider = route.provider
            response = (self._take_fault(route.provider) or self._limited(route.provider)
                        or route.handler(request, params))
        if self.latency:
            time.sleep(self.latency)  # a far-away API, for the latency-bound benchmark
        with self._lock:
            self.served[request.provider] += 1
            if self.keep_requests:
                self.requests.append(request)
        if self.on_request is not None:
            self.on_request(request)
        if response.fault is not None:
            _send_fault(http, response)
            return
        payload = response.encode()
        http.send_response(response.status)
        content_type = "application/json" if response.raw is None and not isinstance(
            response.body, str) else "text/plain"
        http.send_header("Content-Type", response.headers.pop("Content-Type", content_type))
        for name, value in response.headers.items():
            http.send_header(name, value)
        http.send_header("Content-Length", str(len(payload)))
        http.end_headers()
        http.wfile.write(payload)


class _QuietServer(ThreadingHTTPServer):
    """A client that hangs up (killed, timed out) is normal here, not an error to print."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            super().handle_error(request, client_address)


def _send_fault(http: BaseHTTPRequestHandler, response: Response) -> None:
    fault = response.fault
    if fault == "reset":
        http.close_connection = True
        http.connection.shutdown(socket.SHUT_RDWR)
        return
    if fault == "slow":
        time.sleep(response.delay)  # the client's read timeout is what is under test
        fault = None
    body = b"<html>502 Bad Gateway</html>" if fault == "garbage" else response.encode()
    if fault in ("endless", "huge"):
        http.send_response(200)
        http.send_header("Content-Type", "application/json")
        if fault == "huge":
            http.send_header("Content-Length", str(64 * 1024 * 1024))
        else:
            http.send_header("Transfer-Encoding", "chunked")
        http.end_headers()
        chunk = b"[" + b"0," * 32767
        try:
            for _ in range(1024):  # bounded: 64 MiB at most, then the server gives up
                data = chunk if fault == "huge" else b"%x\r\n%s\r\n" % (len(chunk), chunk)
                http.wfile.write(data)
        except OSError:
            pass  # the client hung up: what the limit is for
        http.close_connection = True
        return
    http.send_response(200 if fault == "garbage" else response.status)
    http.send_header("Content-Type", "application/json")
    http.send_header("Content-Length", str(len(body) * (2 if fault == "truncate" else 1)))
    for name, value in response.headers.items():
        http.send_header(name, value)
    http.end_headers()
    http.wfile.write(body)
    if fault == "truncate":
        http.close_connection = True
        http.connection.shutdown(socket.SHUT_RDWR)


def query_int(request: Request, name: str, default: int) -> int | None:
    """An integer query parameter, `default` when absent, None when not an integer."""
    value = request.query.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        return None
