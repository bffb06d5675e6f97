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
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from simulator.server import Request, Response, Simulator, query_int

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
    """Seeded Bland account: `size` calls per phone number over `weeks` before `now`."""

    api_key: str = "bland-test-key"
    phone_numbers: tuple[str, ...] = ("+14150000001", "+14150000002", "+14150000003")
    size: int = 200
    weeks: int = 3
    seed: int = 7
    now: datetime = field(default_factory=lambda: datetime(2026, 11, 1, 12, 0, tzinfo=UTC))
    max_limit: int = 1000

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._lock = threading.Lock()
        self._seq = 0
        self._index: dict[str, tuple[tuple[int, int], dict[Any, int]]] = {}
        # calls per phone number, newest first
        self.logs: dict[str, list[dict[str, Any]]] = {n: [] for n in self.phone_numbers}
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
            other = other[1:]  # numbers without `+` (REFERENCE 1.6.6)
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
        """Every call record as served (without internal keys), all numbers."""
        return [self.public(c) for log in self.logs.values() for c in log]

    @staticmethod
    def public(call: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in call.items() if not k.startswith("_")}

    # -- mutations for tests -----------------------------------------------
    def add_calls(self, n: int, phone_number: str | None = None,
                  outcome: tuple[int | None, str] = (200, "200 OK")) -> list[dict[str, Any]]:
        """Add `n` calls newer than any so far (the clock moves on a minute per call)."""
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
        before = request.query.get("before")
        with self._lock:
            log = self.logs.get(checked, [])
            start = 0
            if before:
                position = self._position(checked, before)
                if position is None:
                    return _error(400, "INVALID_CURSOR", "before must be a call_id of this log")
                start = position + 1
            page = [self.public(c) for c in log[start:start + limit]]
        return Response(200, {"data": {"calls": page}, "errors": None})

    def _position(self, number: str, call_id: str) -> int | None:
        """Where `call_id` is in a log (an index rebuilt only when the log changed)."""
        log = self.logs[number]
        shape = (len(log), id(log[0]) if log else 0)
        index = self._index.get(number)
        if index is None or index[0] != shape:
            index = (shape, {c.get("call_id"): i for i, c in enumerate(log)})
            self._index[number] = index
        return index[1].get(call_id)

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
