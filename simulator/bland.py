"""Bland AI simulator: `GET /v1/sip/calls` and `GET /v1/sip`, as the docs describe them.

Auth: `authorization: <key>` (or `Bearer <key>`), else 401 with Bland's error envelope.
`phone_number` is required and must be E.164 (400 otherwise). Call logs come newest
first in pages of `limit` (default 50, at most 1000 here) with the `before=<call_id>`
cursor, inside `{"data": {"calls": [...]}, "errors": null}`.
"""

from __future__ import annotations

import random
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from simulator.server import Request, Response, Simulator, query_int
from simulator.store import CallStore, LazyStore, ListStore
from simulator.volume import (
    TEMPLATES,
    EagerOnly,
    Style,
    Timeline,
    micros,
    mix,
    moment,
    salt,
)

SLUG = "bland"
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
# (sip_code, status text) covering every row of the contract's Bland status table
OUTCOMES: list[tuple[int | None, str]] = [
    (200, "200 OK"), (200, "200 OK"), (200, "200 OK"), (200, "200 OK"),
    (486, "486 Busy Here"), (600, "600 Busy Everywhere"), (603, "603 Decline"),
    (408, "408 Request Timeout"), (480, "480 Temporarily Unavailable"),
    (487, "487 Request Terminated"), (404, "404 Not Found"), (503, "503 Service Unavailable"),
    (None, "486 Busy"), (None, "200 OK"),
]
RINGING = (180, "180 Ringing")


def _error(status: int, code: str, message: str) -> Response:
    return Response(status, {"data": None, "errors": [{"error": code, "message": message}]})


def _iso(ts: datetime, rng: random.Random) -> str:
    """Timestamps as Bland writes them: `Z` or `+00:00`, with or without microseconds."""
    text = ts.isoformat(timespec="microseconds" if rng.random() < 0.3 else "seconds")
    return text if rng.random() < 0.5 else text.replace("+00:00", "Z")


@dataclass
class BlandSim:
    """Seeded Bland account: `size` calls per phone number over `weeks` before `now`.

    `lazy=True` holds no calls: record i of a number (0 = oldest) is made on demand from
    a template cycle, with `call_id` `<i>-<hex>@sip.bland.ai` (so `before` is an index)
    and start times increasing with i. The newest initial call is ringing and the middle
    one of the first number is shared with the second, as in eager mode (the second
    number then has `size` calls, not `size + 1`). `extend(n)` adds n newer calls to
    every number; the other mutations need eager mode.
    """

    api_key: str = "bland-test-key"
    phone_numbers: tuple[str, ...] = ("+14150000001", "+14150000002", "+14150000003")
    size: int = 200
    weeks: int = 3
    seed: int = 7
    now: datetime = field(default_factory=lambda: datetime(2026, 11, 1, 12, 0, tzinfo=UTC))
    max_limit: int = 1000
    lazy: bool = False

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._lock = threading.Lock()
        self._seq = 0
        # calls per phone number, newest first
        self.logs: dict[str, list[dict[str, Any]]] = {n: [] for n in self.phone_numbers}
        self.made = 0  # records built by the lazy generator (tests count them)
        self.stores: dict[str, CallStore] = {}  # one per number: its log, oldest first
        if self.lazy:
            self._setup_lazy()
            return
        for number in self.phone_numbers:
            self.stores[number] = ListStore(
                partial(self._oldest_first, number), time=lambda c: c["_ts"],
                serve=self.public, key=lambda c: c.get("call_id"))
        span = timedelta(weeks=self.weeks).total_seconds()
        for number in self.phone_numbers:
            step = span / max(self.size, 1)
            for i in range(self.size):
                offset = i * step + self._rng.uniform(0, step * 0.8)
                started = self.now - timedelta(seconds=offset)
                outcome = RINGING if i == 0 else self._rng.choice(OUTCOMES)
                self.logs[number].append(self._make_call(number, started, outcome))
        self._share_one_call()
        for log in self.logs.values():
            log.sort(key=lambda c: c["_ts"], reverse=True)

    def _oldest_first(self, number: str) -> list[dict[str, Any]]:
        return self.logs[number][::-1]

    # -- data --------------------------------------------------------------
    def _make_call(
        self, number: str, started: datetime, outcome: tuple[int | None, str]
    ) -> dict[str, Any]:
        rng = self._rng
        self._seq += 1
        code, status = outcome
        direction = rng.choice(["inbound", "outbound"])
        other = f"+1{rng.randint(2012000000, 9899999999)}"
        if rng.random() < 0.1:
            other = other[1:]  # numbers without `+` (sources/bland/README.md)
        elif rng.random() < 0.05:
            other = "anonymous"
        answered = (code or int(status[:3])) == 200
        duration = rng.randint(5, 900) if answered else 0
        ringing = code is not None and code < 200
        ended = None if ringing else started + timedelta(seconds=duration + rng.randint(1, 30))
        call = {
            "call_id": f"{self._seq:06d}-{rng.getrandbits(40):010x}@sip.bland.ai",
            "direction": direction,
            "from": number if direction == "outbound" else other,
            "to": other if direction == "outbound" else number,
            "status": status,
            "sip_code": code,
            "duration_seconds": duration,
            "started_at": _iso(started, rng),
            "ended_at": _iso(ended, rng) if ended else None,
            "source_ip": f"35.80.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
            "_ts": started,
        }
        if code is None:
            del call["sip_code"]
        return call

    def _share_one_call(self) -> None:
        """A call between two configured numbers shows in both logs, under one call_id."""
        if len(self.phone_numbers) < 2 or not self.logs[self.phone_numbers[0]]:
            return
        a, b = self.phone_numbers[0], self.phone_numbers[1]
        call = dict(self.logs[a][len(self.logs[a]) // 2])
        call.update({"direction": "outbound", "from": a, "to": b})
        self.logs[a][len(self.logs[a]) // 2] = call
        self.logs[b].append(dict(call, direction="inbound"))

    def all_calls(self) -> list[dict[str, Any]]:
        """Every call record as served (without internal keys), all numbers (lazy mode:
        small sizes only, it builds them all)."""
        calls = []
        for number in self.phone_numbers:
            view = self.stores[number].view()
            calls += view.calls(range(len(view) - 1, -1, -1))
        return calls

    def count(self) -> int:
        """Distinct calls over all numbers (what a full sync loads), without building them."""
        if not self.lazy:
            return len({c.get("call_id") for c in self.all_calls()} - {None})
        shared = 1 if self._shared is not None else 0
        return len(self.phone_numbers) * self.count_per_number - shared

    # -- lazy mode ---------------------------------------------------------
    @property
    def count_per_number(self) -> int:
        """Calls in each number's log (lazy mode: the same for every number)."""
        return len(self.stores[self.phone_numbers[0]].view())

    def _setup_lazy(self) -> None:
        self._timeline = Timeline(self.now, timedelta(weeks=self.weeks), self.size, self.seed)
        self._salts = [salt(self.seed, p, "call_id") for p in range(len(self.phone_numbers))]
        self._shared = self.size // 2 if len(self.phone_numbers) >= 2 and self.size else None
        t0 = datetime(2026, 1, 1, tzinfo=UTC)
        self._templates: list[list[tuple[dict[str, Any], Style, int | None, Style]]] = []
        self._ringing: list[tuple[dict[str, Any], Style, int | None, Style]] = []
        for p, number in enumerate(self.phone_numbers):
            self._rng = random.Random(salt(self.seed, p, "templates"))
            made = [self._template(self._make_call(number, t0, self._rng.choice(OUTCOMES)))
                    for _ in range(TEMPLATES)]
            self._templates.append(made)
            self._ringing.append(self._template(self._make_call(number, t0, RINGING)))
            self.stores[number] = LazyStore(
                self.size, self._timeline.at,
                partial(self._lazy_calls, p), partial(self._call_id, p), _head_index)

    @staticmethod
    def _template(call: dict[str, Any]) -> tuple[dict[str, Any], Style, int | None, Style]:
        """A made call as (record, started_at style, ended_at offset in us, its style)."""
        started_style, started = Style.of(call["started_at"])
        ended_style, ended = Style.of(call["ended_at"] or call["started_at"])
        offset = micros(ended) - micros(started) if call["ended_at"] else None
        return BlandSim.public(call), started_style, offset, ended_style

    def _call_id(self, p: int, i: int) -> str:
        if i == self._shared and p == 1:
            p = 0  # the shared call keeps the first number's id
        return f"{str(i).zfill(6)}-{hex(mix(i, self._salts[p], 40))[2:].zfill(10)}@sip.bland.ai"

    def _lazy_call(self, p: int, i: int) -> dict[str, Any]:
        """Record i (0 = oldest) of the p-th number's log, the same every time."""
        return self._lazy_calls(p, (i,))[0]

    def _lazy_calls(self, p: int, indices: Iterable[int]) -> list[dict[str, Any]]:
        """Records `indices` of the p-th number's log (one loop: a page's hot path)."""
        templates, ringing, at, call_id = (
            self._templates[p], self._ringing[p], self._timeline.at, self._call_id)
        newest, shared = self.size - 1, self._shared
        calls = []
        for i in indices:
            record, started_style, offset, ended_style = (
                ringing if i == newest else templates[i % TEMPLATES])
            call = record.copy()
            moment = at(i)
            call["call_id"] = call_id(p, i)
            call["started_at"] = started_style.write(moment)
            if offset is not None:
                call["ended_at"] = ended_style.write(moment + offset)
            if i == shared and p <= 1:
                a, b = self.phone_numbers[0], self.phone_numbers[1]
                call.update({"direction": "outbound" if p == 0 else "inbound", "from": a,
                             "to": b})
            calls.append(call)
        self.made += len(calls)
        return calls

    def extend(self, n: int) -> None:
        """Add `n` calls, newer than any so far, to every number (the clock moves on)."""
        if not self.lazy:
            for number in self.phone_numbers:
                self.add_calls(n, phone_number=number)
            return
        with self._lock:
            for store in self.stores.values():
                store.extend(n)
            self.now = max(self.now, moment(self._timeline.at(self.count_per_number - 1))
                           + timedelta(seconds=1))

    @staticmethod
    def public(call: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in call.items() if not k.startswith("_")}

    # -- mutations for tests -----------------------------------------------
    def add_calls(self, n: int, phone_number: str | None = None,
                  outcome: tuple[int | None, str] = (200, "200 OK")) -> list[dict[str, Any]]:
        """Add `n` calls newer than any so far (the clock moves on a minute per call)."""
        if self.lazy:
            raise EagerOnly("add_calls")
        number = phone_number or self.phone_numbers[0]
        added = []
        with self._lock:
            for _ in range(n):
                self.now += timedelta(minutes=1)
                call = self._make_call(number, self.now, outcome)
                self.logs[number].insert(0, call)
                added.append(self.public(call))
        return added

    def complete_call(self, call_id: str, duration: int = 61) -> dict[str, Any]:
        """A ringing call completes: 200 OK, a duration and an end time."""
        if self.lazy:
            raise EagerOnly("complete_call")
        with self._lock:
            for log in self.logs.values():
                for call in log:
                    if call["call_id"] == call_id:
                        call.update(status="200 OK", sip_code=200, duration_seconds=duration,
                                    ended_at=(call["_ts"] + timedelta(seconds=duration + 3))
                                    .isoformat().replace("+00:00", "Z"))
                        return self.public(call)
        raise KeyError(call_id)

    def put_raw(self, phone_number: str, record: dict[str, Any], started: datetime) -> None:
        """Put any record (even a malformed one) into a log at the given position in time."""
        if self.lazy:
            raise EagerOnly("put_raw")
        with self._lock:
            log = self.logs[phone_number]
            log.append(dict(record, _ts=started))
            log.sort(key=lambda c: c["_ts"], reverse=True)

    def sip_config(self, number: str) -> dict[str, Any]:
        index = self.phone_numbers.index(number)
        stamp = (self.now - timedelta(days=60 - index)).isoformat().replace("+00:00", "Z")
        inbound = {
            "number": number, "id": f"in-{index}", "org_id": "org_sim", "direction": "inbound",
            "sip_endpoint": None, "created_at": stamp, "updated_at": stamp, "headers": None,
            "options": {"auth_mode": "ip"},
        }
        outbound = {
            "number": number, "id": f"out-{index}", "org_id": "org_sim",
            "direction": "outbound", "sip_endpoint": f"sip:trunk{index}.carrier.example",
            "created_at": stamp, "updated_at": stamp,
            # whatever the docs promise, a careless API may leak credentials: never load them
            "headers": {"Authorization": "Basic c2lwLXVzZXI6c2lwLXBhc3M=", "X-Trunk": "a"},
            "password": "sim-sip-password",
            "options": {"port": 5061, "transport": "tls", "secure_media": True,
                        "auth_password": "sim-sip-password", "username": "trunk-user"},
        }
        # the last number has no outbound side: the API returns null for it
        return {"inbound": inbound, "outbound": None if index == 2 else outbound}

    # -- routes ------------------------------------------------------------
    def register(self, sim: Simulator) -> None:
        sim.route(SLUG, "GET", "/v1/sip/calls", self._calls)
        sim.route(SLUG, "GET", "/v1/sip", self._config)

    def _check(self, request: Request) -> Response | str:
        auth = (request.header("authorization") or "").removeprefix("Bearer ").strip()
        if auth != self.api_key:
            return _error(401, "AUTH_FAILURE", "Unauthorized")
        number = request.query.get("phone_number")
        if not number:
            return _error(400, "MISSING_PHONE_NUMBER", "phone_number is required")
        if not E164.match(number):
            return _error(400, "INVALID_PHONE_NUMBER", "phone_number must be in E.164 format")
        return number

    def _calls(self, request: Request, _: dict[str, str]) -> Response:
        checked = self._check(request)
        if isinstance(checked, Response):
            return checked
        limit = query_int(request, "limit", 50)
        if limit is None or not 1 <= limit <= self.max_limit:
            return _error(400, "INVALID_LIMIT", f"limit must be 1..{self.max_limit}")
        page = self._page(checked, request.query.get("before"), limit)
        if page is None:
            return _error(400, "INVALID_CURSOR", "before must be a call_id of this log")
        return Response(200, {"data": {"calls": page}, "errors": None})

    def _page(self, number: str, before: str | None,
              limit: int) -> list[dict[str, Any]] | None:
        """A log's page: `limit` calls older than `before`, newest first (None: a cursor
        that names no call of this log)."""
        if number not in self.stores:
            return None if before else []
        with self._lock:
            view = self.stores[number].view()
        start = len(view) - 1
        if before:
            # a call_id twice in a log (a careless API): the cursor names the older one
            named = view.find(before, range(len(view)))
            if named is None:
                return None
            start = named - 1
        return view.calls(range(start, max(start - limit, -1), -1))

    def _config(self, request: Request, _: dict[str, str]) -> Response:
        checked = self._check(request)
        if isinstance(checked, Response):
            return checked
        if checked not in self.phone_numbers:
            return Response(200, {"data": {"inbound": None, "outbound": None}, "errors": None})
        return Response(200, {"data": self.sip_config(checked), "errors": None})

    # -- configuration for callsync ------------------------------------------
    def config(self, url: str) -> dict[str, Any]:
        """The `[sources.bland]` values that point callsync at this simulator."""
        return {
            "base_url": url,
            "api_key": self.api_key,
            "phone_numbers": list(self.phone_numbers),
            "start_date": (self.now - timedelta(weeks=self.weeks + 1)).date().isoformat(),
        }

    def describe(self, url: str) -> str:
        return f"api_key={self.api_key} phone_numbers={','.join(self.phone_numbers)}"


def _head_index(call_id: object) -> int | None:
    """The index a lazy call_id (`<i>-<hex>@sip.bland.ai`) would name, or None."""
    head = str(call_id).partition("-")[0]
    return int(head) if head.isdigit() else None
