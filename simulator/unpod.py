"""Unpod simulator: `GET /api/v2/platform/call-logs/`, as docs.unpod.dev (and
`sources/unpod/README.md`, API notes) describe it, quirks included.

Auth: `Authorization: Token <token>` (else 401 "Authentication credentials were not
provided."; the expired token: 403 "Token has expired.") and the `Org-Handle` header
(missing: 400 "Org-Handle header is required."; another org: 403). Call logs come newest
first by `creation_time`, `page`/`page_size` numbered (default 20; above 100 is served as
100 and a value that is not a positive integer as the default, as Django REST framework
does; a page past the end or not a positive integer: 400 "Invalid page."), filtered by
`start_date` (creation time >= it) and `end_date` (<= it; a bare date: through that day),
`call_type` and `call_status` (case-insensitive), inside
`{"count", "status_code", "message", "data"}`. `links` switches `next`/`previous`:
"absent" (the documented bodies and the backend's renderer), "present" (the docs'
pagination section) or "hostile" (`next` on another origin, `hostile_url`).

Records come in the docs' three shapes: `get-call-logs` (no `id`, integer seconds),
`calls` (`id`, `bridge`, `"H:MM:SS"`/`"HH:MM:SS"`/`"1 day, H:MM:SS"`, `.000Z`) and the
open-source backend's (`id`, float seconds, microseconds or a `+05:30` offset, `agent`/
`space`/`organization` objects). Statuses include the odd spellings the backend knows.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

from simulator.server import Request, Response, Simulator
from simulator.store import CallStore, CallView, LazyStore, ListStore, chunked
from simulator.volume import (
    SECOND,
    TEMPLATES,
    EagerOnly,
    Style,
    Timeline,
    micros,
    mix,
    moment,
    salt,
)

SLUG = "unpod"
PREFIX = "/api/v2/platform"
CALLS_PATH = f"{PREFIX}/call-logs/"
IST = timezone(timedelta(hours=5, minutes=30))
VARIANTS = ("logs", "calls", "backend")
# (call_status, end_reason): every row of the contract's Unpod status rule, the spellings
# the docs and backend use, and values no rule covers (they become `unknown`)
DOCUMENTED: list[tuple[str, str | None]] = [
    ("completed", "caller_hangup"), ("completed", "customer-ended-call"),
    ("completed", "agent-ended-call"), ("completed", None), ("completed", "caller_hangup"),
    ("completed", "customer-ended-call"), ("COMPLETED", "caller_hangup"),
    ("missed", "no_answer"), ("missed", "no_answer"), ("Missed", None),
    ("failed", "user_busy"), ("failed", "BUSY"), ("FAILED", "Line Busy"),
    ("failed", "network_error"), ("failed", None),
]
UNDOCUMENTED: list[tuple[str, str | None]] = [
    ("success", "caller_hangup"), ("ANSWERED", "customer-ended-call"),
    ("FAILURE", "call_rejected"), ("REJECTED", None),
]
OUTCOMES = DOCUMENTED * 3 + UNDOCUMENTED
ANSWERED_STATUSES = {"completed", "success", "answered"}
DIRECTIONS = ["inbound"] * 12 + ["outbound"] * 12 + ["Inbound", "OUTBOUND", "both"]


def _error(status: int, message: str, data: bool = False) -> Response:
    body: dict[str, Any] = {"status_code": status, "message": message}
    if data:
        body["data"] = {}
    return Response(status, body)


def _parse(value: str) -> tuple[datetime, bool] | None:
    """An ISO date or datetime (zone-less: UTC) and whether it was a bare date."""
    text = value.strip()
    if "T" in text and " " in text:
        text = text.replace(" ", "+")  # an unencoded `+` of an offset arrives as a space
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=UTC), True
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC), False


def _hms(seconds: int, padded: bool) -> str:
    """Python-timedelta style `H:MM:SS` (`1 day, 2:03:04` past a day), or `HH:MM:SS`."""
    if padded and seconds < 86400:
        return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    return str(timedelta(seconds=seconds))


def token(value: object) -> str:
    return str(value or "").strip().lower().replace("-", "").replace("_", "").replace(" ", "")


@dataclass
class UnpodSim:
    """Seeded Unpod organization: `size` calls over `weeks` before `now`, newest first.

    `lazy=True` holds no calls: call i (0 = oldest) is made on demand from a template
    cycle (the three record shapes in turn), created at times increasing with i, so a
    date filter is a bisect and a page an index range. The newest initial call is in
    progress and one of over a day sits a third of the way down, as in eager mode.
    `call_type`/`call_status` filters scan the dated range once per query.
    `extend(n)` adds n newer calls; the other mutations need eager mode.
    """

    api_token: str = "unpod-test-token-4711"
    expired_token: str = "unpod-expired-token-0815"
    org_handle: str = "acme-sim"
    org_number: str = "+918045000001"
    size: int = 200
    weeks: int = 3
    seed: int = 7
    now: datetime = field(default_factory=lambda: datetime(2026, 11, 1, 12, 0, tzinfo=UTC))
    default_page_size: int = 20
    max_page_size: int = 100
    links: str = "absent"  # "absent" | "present" | "hostile"
    hostile_url: str = "http://127.0.0.1:9"
    honor_date_filters: bool = True  # False: a server that ignores start_date/end_date
    # pages served empty while `count` still counts their calls: a page lost between the
    # count and the rows (an outage, a failed shard)
    lost_pages: set[int] = field(default_factory=set)
    lazy: bool = False

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._lock = threading.Lock()
        self._seq = 0
        self._version = 0  # bumped by every mutation: the filter cache's key
        self._cache: dict[tuple[Any, ...], tuple[CallView, Sequence[int]]] = {}
        self.log: list[dict[str, Any]] = []  # newest first
        self.made = 0  # records built by the lazy generator (tests count them)
        self.store: CallStore
        if self.lazy:
            self._setup_lazy()
            return
        self.store = ListStore(lambda: self.log[::-1], time=lambda c: c["_ts"],
                               serve=self.public, key=self.key_of, add=self.add_calls)
        span = timedelta(weeks=self.weeks).total_seconds()
        step = span / max(self.size, 1)
        for i in range(self.size):
            created = self.now - timedelta(seconds=i * step + self._rng.uniform(0, step * 0.8))
            if i == 0:  # still talking
                call = self._make_call(created, ("in-progress", None))
            elif i == self.size // 3:  # one call of over a day: "1 day, 2:03:04"
                call = self._make_call(created, ("completed", "caller_hangup"), "calls", 93784)
            else:
                call = self._make_call(created, self._rng.choice(OUTCOMES))
            self.log.append(call)
        self.log.sort(key=lambda c: c["_ts"], reverse=True)

    # -- data --------------------------------------------------------------
    def _stamp(self, ts: datetime, variant: str) -> str:
        """`creation_time`-style text of `ts` (already rounded to what the form carries)."""
        if variant == "logs":
            return ts.strftime("%Y-%m-%dT%H:%M:%SZ")
        if variant == "calls":
            return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"
        if self._rng.random() < 0.3:
            return ts.astimezone(IST).isoformat(timespec="microseconds")
        return ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def _make_call(
        self, created: datetime, outcome: tuple[str, str | None], variant: str | None = None,
        duration: int | None = None,
    ) -> dict[str, Any]:
        rng = self._rng
        self._seq += 1
        variant = variant or VARIANTS[self._seq % len(VARIANTS)]
        created = created.replace(microsecond=0)
        if variant == "backend":
            created = created.replace(microsecond=rng.randrange(1_000_000))
        status, end_reason = outcome
        answered = token(status) in ANSWERED_STATUSES or status == "in-progress"
        ongoing = status == "in-progress"
        direction = rng.choice(DIRECTIONS)
        other = f"+91{rng.randint(6000000000, 9999999999)}"
        form = rng.random()
        if form < 0.08:
            other = other[1:]  # bare digits
        elif form < 0.12:
            other = f"{other[:3]} {other[3:8]} {other[8:]}"  # spaced
        elif form < 0.14:
            other = "00" + other[1:]
        elif form < 0.16 and token(direction) == "inbound":
            other = "anonymous"
        outbound = token(direction) == "outbound"
        answered_at = created + timedelta(seconds=rng.randint(2, 25)) if answered else None
        seconds = duration if duration is not None else (
            rng.randint(5, 1800) if answered and not ongoing else 0)
        if answered_at and not ongoing:
            ended_at: datetime | None = answered_at + timedelta(seconds=seconds)
        elif token(status) in ("failed", "failure", "rejected"):
            ended_at = created + timedelta(seconds=rng.randint(1, 30))
        else:
            ended_at = None  # missed calls and calls in progress have no end
        call: dict[str, Any] = {
            "source_number": self.org_number if outbound else other,
            "destination_number": other if outbound else self.org_number,
            "call_type": direction,
            "call_status": status,
            "creation_time": self._stamp(created, variant),
            "start_time": self._stamp(answered_at, variant) if answered_at else None,
            "end_time": self._stamp(ended_at, variant) if ended_at else None,
            "call_duration": self._duration(seconds, variant),
            "end_reason": end_reason,
            "_ts": created,
            "_variant": variant,
        }
        if answered and not ongoing and rng.random() < 0.04:
            call["call_duration"] = None  # unreported: ended_at - answered_at
        if variant != "logs":
            call = {"id": self._new_id(variant), **call}
        if variant == "calls":
            call["bridge"] = rng.randint(1, 4)
        if variant == "backend":
            call.update(agent={"id": 3, "name": "Reception bot"}, space=None,
                        organization={"id": 1, "name": self.org_handle},
                        product_id="unpod.ai")
        return call

    def _new_id(self, variant: str) -> str:
        bits = self._rng.getrandbits(48)
        return f"call_{bits:012x}" if variant == "calls" else f"{self._seq:06d}-{bits:012x}"

    def _duration(self, seconds: int, variant: str) -> Any:
        if variant == "logs":
            return seconds
        if variant == "calls":
            return _hms(seconds, padded=self._rng.random() < 0.3)
        return float(seconds)

    @staticmethod
    def key_of(call: dict[str, Any]) -> str:
        """The contract's call_id of a served record: `id`, else time|from|to as given."""
        if call.get("id"):
            return str(call["id"])
        return "|".join("" if call.get(k) is None else str(call[k])
                        for k in ("creation_time", "source_number", "destination_number"))

    @staticmethod
    def public(call: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in call.items() if not k.startswith("_")}

    def all_calls(self) -> list[dict[str, Any]]:
        """Every call record as served (without internal keys), newest first (lazy mode:
        small sizes only, it builds them all)."""
        with self._lock:
            view = self.store.view()
        return view.calls(range(len(view) - 1, -1, -1))

    def count(self) -> int:
        """How many calls the organization has (what a full sync loads), without building
        them."""
        with self._lock:
            return len(self.store.view())

    # -- lazy mode ---------------------------------------------------------
    def _setup_lazy(self) -> None:
        self._timeline = Timeline(self.now, timedelta(weeks=self.weeks), self.size, self.seed)
        self._salt = salt(self.seed, 0, "id")
        t0 = datetime(2026, 1, 1, tzinfo=UTC)
        self._templates = [
            self._template(self._make_call(t0, self._rng.choice(OUTCOMES),
                                           VARIANTS[t % len(VARIANTS)]))
            for t in range(TEMPLATES)]
        # the eager log's newest call is in progress, and one a third down lasts over a day
        self._special = {
            self.size - 1 - self.size // 3: self._template(self._make_call(
                t0, ("completed", "caller_hangup"), "calls", 93784)),
            self.size - 1: self._template(self._make_call(t0, ("in-progress", None), "calls")),
        }
        # the API has no call by id: a lazy call is never looked up by its key
        self.store = LazyStore(self.size, self._created, self._lazy_calls,
                               lambda i: self.key_of(self._lazy_call(i)), lambda key: None,
                               on_extend=self._extended)

    @staticmethod
    def _template(call: dict[str, Any]) -> tuple[dict[str, Any], str, Style, list[tuple[
            str, int, Style]]]:
        """A made call as (record, shape, creation_time style, (field, offset from creation
        in us, style) per other time it has)."""
        style, created = Style.of(call["creation_time"])
        times = []
        for name in ("start_time", "end_time"):
            if call[name]:
                field_style, at = Style.of(call[name])
                times.append((name, micros(at) - micros(created), field_style))
        return UnpodSim.public(call), call["_variant"], style, times

    def _lazy_template(self, i: int) -> tuple[dict[str, Any], str, Style, list[tuple[
            str, int, Style]]]:
        return self._special.get(i) or self._templates[i % TEMPLATES]

    def _created(self, i: int) -> int:
        """Creation time of lazy call i, epoch us (whole seconds unless the backend's shape)."""
        at = self._timeline.at(i)
        return at if self._lazy_template(i)[1] == "backend" else at // SECOND * SECOND

    def _lazy_calls(self, indices: Iterable[int]) -> list[dict[str, Any]]:
        return [self._lazy_call(i) for i in indices]

    def _lazy_call(self, i: int) -> dict[str, Any]:
        """Lazy call i (0 = oldest), the same every time."""
        self.made += 1
        record, variant, style, times = self._lazy_template(i)
        call = dict(record)
        created = self._created(i)
        if variant == "calls":
            call["id"] = f"call_{mix(i, self._salt, 48):012x}"
        elif variant == "backend":
            call["id"] = f"{i:06d}-{mix(i, self._salt, 48):012x}"
        call["creation_time"] = style.write(created)
        for name, offset, field_style in times:
            call[name] = field_style.write(created + offset)
        return call

    def extend(self, n: int) -> None:
        """Add `n` calls newer than any so far (the clock moves on)."""
        if not self.lazy:
            self.add_calls(n)
            return
        with self._lock:
            self._version += 1
            self.store.extend(n)

    def _extended(self, count: int) -> None:
        self.now = max(self.now, moment(self._timeline.at(count - 1)) + timedelta(seconds=1))

    # -- mutations for tests -----------------------------------------------
    def add_calls(self, n: int, outcome: tuple[str, str | None] = ("completed", "caller_hangup"),
                  variant: str | None = None) -> list[dict[str, Any]]:
        """Add `n` calls newer than any so far (the clock moves on a minute per call)."""
        if self.lazy:
            raise EagerOnly("add_calls")
        added = []
        with self._lock:
            self._version += 1
            for _ in range(n):
                self.now += timedelta(minutes=1)
                call = self._make_call(self.now, outcome, variant=variant)
                self.log.insert(0, call)
                added.append(self.public(call))
        return added

    def complete_call(self, key: str, duration: int = 61) -> dict[str, Any]:
        """A call in progress (or any call) ends: completed, answered, with a duration."""
        if self.lazy:
            raise EagerOnly("complete_call")
        with self._lock:
            self._version += 1
            for call in self.log:
                if self.key_of(call) == key:
                    variant = call["_variant"]
                    answered = call["_ts"] + timedelta(seconds=5)
                    call.update(call_status="completed", end_reason="caller_hangup",
                                start_time=call["start_time"] or self._stamp(answered, variant),
                                end_time=self._stamp(answered + timedelta(seconds=duration),
                                                     variant),
                                call_duration=self._duration(duration, variant))
                    return self.public(call)
        raise KeyError(key)

    def put_raw(self, record: dict[str, Any], at: datetime) -> None:
        """Serve any record (even a malformed one) as if created at `at`."""
        if self.lazy:
            raise EagerOnly("put_raw")
        with self._lock:
            self._version += 1
            self.log.append(dict(record, _ts=at, _variant="raw"))
            self.log.sort(key=lambda c: c["_ts"], reverse=True)

    # -- routes ------------------------------------------------------------
    def register(self, sim: Simulator) -> None:
        sim.route(SLUG, "GET", CALLS_PATH, self._calls)

    def _check(self, request: Request) -> Response | None:
        scheme, _, given = (request.header("authorization") or "").strip().partition(" ")
        if scheme != "Token" or given.strip() not in (self.api_token, self.expired_token):
            return _error(401, "Authentication credentials were not provided.")
        if given.strip() == self.expired_token:
            return _error(403, "Token has expired.")
        handle = (request.header("org-handle") or "").strip()
        if not handle:
            return _error(400, "Org-Handle header is required.")
        if handle != self.org_handle:
            return _error(403, "You do not have permission to access this organization.")
        return None

    def _page_size(self, request: Request) -> int:
        """Django REST framework's rule: capped at the maximum; not a positive int: default."""
        try:
            size = int(request.query.get("page_size", ""))
        except ValueError:
            return self.default_page_size
        return min(size, self.max_page_size) if size > 0 else self.default_page_size

    def _filtered(self, request: Request) -> tuple[CallView, Sequence[int]] | Response:
        # the same query on unchanged data gives the same rows: page walks reuse them
        key = (self._version, self.honor_date_filters, *(request.query.get(n) for n in (
            "start_date", "end_date", "call_type", "call_status")))
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        found = self._filter(request)
        if not isinstance(found, Response):
            self._cache = {key: found}
        return found

    def _filter(self, request: Request) -> tuple[CallView, Sequence[int]] | Response:
        """The calls a query selects, newest first: the dates are two bisects of the
        store's view, `call_type`/`call_status` scan what they leave."""
        dates = self._date_filters(request)
        if isinstance(dates, Response):
            return dates
        with self._lock:
            view = self.store.view()
        lo, hi = 0, len(view)
        for name, bound, bare in dates:
            if name == "start_date":
                lo = max(lo, view.lower(bound))
            elif bare:  # through that day
                hi = min(hi, view.lower(bound + timedelta(days=1)))
            else:
                hi = min(hi, view.upper(bound))
        rows: Sequence[int] = range(hi - 1, lo - 1, -1)
        for name in ("call_type", "call_status"):
            value = request.query.get(name)
            if value:
                rows = [i for i, c in chunked(view, rows) if token(c.get(name)) == token(value)]
        return view, rows

    def _date_filters(self, request: Request) -> list[tuple[str, datetime, bool]] | Response:
        """The `start_date`/`end_date` filters to apply, as (name, bound, given as a bare
        date), or the 400 for an unreadable one (checked even when filters are ignored)."""
        found = []
        for name in ("start_date", "end_date"):
            value = request.query.get(name)
            if not value:
                continue
            parsed = _parse(value)
            if parsed is None:
                return _error(400, f"Invalid {name}: use an ISO 8601 date or datetime.")
            if self.honor_date_filters:
                found.append((name, *parsed))
        return found

    def _calls(self, request: Request, _: dict[str, str]) -> Response:
        refused = self._check(request)
        if refused is not None:
            return refused
        size = self._page_size(request)
        try:
            page = int(request.query.get("page") or 1)
        except ValueError:
            page = 0
        found = self._filtered(request)
        if isinstance(found, Response):
            return found
        view, rows = found
        last = max(1, -(-len(rows) // size))
        if not 1 <= page <= last:
            return _error(400, "Invalid page.", data=True)
        body: dict[str, Any] = {
            "count": len(rows), "status_code": 200,
            "message": "Call logs fetched successfully",
            "data": [] if page in self.lost_pages else view.calls(
                rows[(page - 1) * size:page * size]),
        }
        if self.links != "absent":
            body["next"] = self._link(request, page + 1) if page < last else None
            body["previous"] = self._link(request, page - 1) if page > 1 else None
        return Response(200, body)

    def _link(self, request: Request, page: int) -> str:
        origin = (self.hostile_url if self.links == "hostile"
                  else f"http://{request.header('host')}")
        query = urlencode({**request.query, "page": page})
        return f"{origin.rstrip('/')}{request.path}?{query}"

    # -- configuration for callsync ------------------------------------------
    def config(self, url: str) -> dict[str, Any]:
        """The `[sources.unpod]` values that point callsync at this simulator."""
        return {
            "base_url": f"{url}{PREFIX}/",
            "api_token": self.api_token,
            "org_handle": self.org_handle,
            "start_date": (self.now - timedelta(weeks=self.weeks + 1)).date().isoformat(),
        }

    def describe(self, url: str) -> str:
        return (f"base_url={url}{PREFIX}/ api_token={self.api_token} "
                f"org_handle={self.org_handle}")
