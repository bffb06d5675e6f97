"""jambonz simulator: `GET /v1/Accounts/{sid}/RecentCalls` and `GET /v1/Accounts/{sid}/Calls`.

As `sources/jambonz/README.md` (API notes, the server's behaviour *seen*) says:
- Auth `Authorization: Bearer <key>`; else a plain-text 401 `Unauthorized`. A sid that is
  not a UUID: 400 `{"status":"fail","message":"invalid AccountsSid format"}`; another
  account's sid: 403 `{"status":"fail","message":"insufficient privileges"}` (RecentCalls)
  or `{"msg":"insufficient permissions"}` (Calls).
- One global rate-limit bucket (`rate_limit` requests per `rate_window_seconds`), with the
  `RateLimit-Policy`/`-Limit`/`-Remaining`/`-Reset` headers on every response; 429 when
  exhausted.
- RecentCalls: `page` (>= 1) and `count` (1..500, 0 = no limit) are required (400
  `{"msg":...}`; a non-numeric count is a 500); `days` overrides `start`/`end`; `start`/
  `end` must carry a zone (a zone-less or unreadable bound matches nothing, with 200);
  `answered`, `direction`, `filter` (regex on from/to, or exact call_sid), `trunk`. CDRs
  newest first by `attempted_at`, offset `(page-1)*count`, in the server's envelope
  `{"total":N,"page_size":"25","page":"1","data":[...]}` or the docs'
  `{total, batch, page, data}` (`envelope`). `attempted_at` is RFC 3339 with trailing
  zeros trimmed, `answered_at`/`terminated_at` carry 3 decimals and an unanswered call's
  `answered_at` is the epoch; or every time is epoch ms (`time_format="epoch_ms"`, the
  docs' form). A failed inbound call has `call_sid: null`. Two CDRs with the same
  `attempted_at` and tags are one point: the later write replaces the earlier.
- Calls (live): a bare, unordered array, no paging; exact-match filters.
"""

from __future__ import annotations

import random
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

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

SLUG = "jambonz"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
ZONED = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$", re.I)
DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MAX_COUNT = 500
# what the CDR's InfluxDB point is keyed by besides its time: a write with the same time
# and tags replaces the earlier point
TAGS = ("account_sid", "direction", "host", "trunk", "answered")
# (answered, sip_status, termination_reason, direction forced or None): every row of the
# contract's status rule for recent calls; inbound 487 is never written (SBC bug)
OUTCOMES: list[tuple[bool, int, str, str | None]] = [
    (True, 200, "caller hungup", None), (True, 200, "called party hungup", None),
    (True, 200, "caller hungup", None), (True, 200, "called party hungup", None),
    (True, 200, "caller hungup", None),
    (False, 486, "failed", None), (False, 600, "failed", None), (False, 603, "failed", None),
    (False, 408, "failed", None), (False, 480, "failed", None),
    (False, 487, "caller abandoned", "outbound"),
    (False, 404, "failed", None), (False, 503, "failed", None), (False, 500, "failed", None),
]
# live call status -> (sip_status, sip_reason); both spellings of early media
LIVE_STATUSES: list[tuple[str, int, str]] = [
    ("trying", 100, "Trying"), ("ringing", 180, "Ringing"), ("alerting", 180, "Ringing"),
    ("early-media", 183, "Session Progress"), ("in-progress", 200, "OK"),
    ("queued", 100, "Trying"), ("completed", 200, "OK"), ("failed", 503, "Service Unavailable"),
    ("busy", 486, "Busy Here"), ("no-answer", 480, "Temporarily Unavailable"),
]
TRUNKS = ("Twilio", "Telnyx", "voip.ms", "device")


def _ms(ts: datetime) -> datetime:
    return ts.replace(microsecond=ts.microsecond // 1000 * 1000)


def _iso3(ts: datetime) -> str:
    """`2026-11-01T11:59:35.840Z`: always 3 decimals (answered_at, terminated_at)."""
    return ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _rfc3339_trimmed(ts: datetime) -> str:
    """`2026-11-01T11:59:35.84Z`, `...:35Z`: InfluxDB's time, trailing zeros trimmed."""
    text = _iso3(ts)[:-1].rstrip("0").rstrip(".")
    return text + "Z"


def _epoch_ms(ts: datetime) -> int:
    return int(round((ts - EPOCH).total_seconds() * 1000))


def _parse_bound(value: str) -> datetime | None:
    """A `start`/`end` query value as the server reads it: zoned ISO, or a date (UTC
    midnight); anything else (no zone, epoch ms, garbage) is None."""
    text = value.strip()
    if DATE_ONLY.match(text):
        try:
            return datetime.fromisoformat(text).replace(tzinfo=UTC)
        except ValueError:
            return None
    if not ZONED.match(text):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None


def _fail(status: int, message: str) -> Response:
    return Response(status, {"status": "fail", "message": message})


def _msg(status: int, message: str) -> Response:
    return Response(status, {"msg": message})


@dataclass
class JambonzSim:
    """A seeded jambonz account: `size` CDRs over `weeks` before `now`, and live calls.

    `lazy=True` holds no CDRs: CDR i (0 = oldest) is made on demand from a template
    cycle, attempted at milliseconds increasing with i (every tenth on a whole second, and
    one pair a third of the way down in the same millisecond, as in eager mode), with a
    `call_sid` and `sip_callid` derived from i. Time filters are a bisect, pages an index
    range; `answered`/`direction`/`trunk`/`filter` scan the dated range. Live calls are
    as in eager mode. `extend(n)` adds n newer CDRs; the other CDR mutations need eager
    mode.
    """

    api_key: str = "jambonz-test-key-7c1e"
    account_sid: str = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
    other_account_sid: str = "0b8a2e4c-1d3f-4a5b-8c7d-9e0f1a2b3c4d"  # exists, not ours
    size: int = 200
    weeks: int = 3
    live_size: int = len(LIVE_STATUSES)
    seed: int = 7
    now: datetime = field(default_factory=lambda: datetime(2026, 11, 1, 12, 0, tzinfo=UTC))
    envelope: str = "code"  # "code": the server's; "docs": `{total, batch, page, data}`
    time_format: str = "rfc3339"  # or "epoch_ms" (the swagger's integers)
    call_id_field: str = "sip_callid"  # the swagger spells it "sip_call_id"
    rate_limit: int = 600
    rate_window_seconds: int = 300
    timer: Callable[[], float] = time.monotonic  # the rate-limit window's clock
    # called after each RecentCalls page is built (page number): calls arriving mid-walk
    after_page: Callable[[int], None] | None = None
    # RecentCalls pages served empty while `total` still counts their CDRs: a page lost
    # between the database's count and its rows (an outage, a failed shard)
    lost_pages: set[int] = field(default_factory=set)
    lazy: bool = False

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._lock = threading.Lock()
        self._seq = 0
        self._served = 0
        self._window_start: float | None = None
        self._window_used = 0
        self._faults: list[tuple[str, Response]] = []
        self.cdrs: list[dict[str, Any]] = []  # newest first (by attempted_at, then write)
        self._points: dict[tuple[Any, ...], dict[str, Any]] = {}  # InfluxDB's point identity
        self.live: list[dict[str, Any]] = []
        self.made = 0  # records built by the lazy generator (tests count them)
        self.store: CallStore
        if self.lazy:
            self._setup_lazy()
        else:
            self.store = ListStore(lambda: self.cdrs[::-1], time=_when, serve=self.render,
                                   key=_key, add=self.add_calls)
            self._setup_eager()
        for i in range(self.live_size):
            self.live.append(self._make_live(LIVE_STATUSES[i % len(LIVE_STATUSES)]))

    def _setup_eager(self) -> None:
        span = timedelta(weeks=self.weeks).total_seconds()
        step = span / max(self.size, 1)
        for i in range(self.size):
            attempted = _ms(self.now - timedelta(seconds=i * step + self._rng.uniform(
                60, step * 0.8)))
            if i % 10 == 3:
                attempted = attempted.replace(microsecond=0)  # `...:35Z` on a whole second
            self._write(self._make_cdr(attempted, self._rng.choice(OUTCOMES)), sort=False)
        self._sort()
        self._add_tie()

    # -- data --------------------------------------------------------------
    def _uuid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def _number(self) -> str:
        roll = self._rng.random()
        digits = f"1{self._rng.randint(2012000000, 9899999999)}"
        if roll < 0.55:
            return "+" + digits
        if roll < 0.85:
            return digits  # 11 bare digits, as SIP user parts often come
        if roll < 0.93:
            return f"{self._rng.randint(1000, 1099)}"  # a device extension
        return "anonymous"

    def _make_cdr(
        self, attempted: datetime, outcome: tuple[bool, int, str, str | None],
        direction: str | None = None,
    ) -> dict[str, Any]:
        rng = self._rng
        self._seq += 1
        answered, sip_status, reason, forced = outcome
        direction = direction or forced or rng.choice(["inbound", "outbound"])
        ring = timedelta(milliseconds=rng.randint(800, 25000))
        duration = rng.randint(3, 1800) if answered else 0
        answered_at = attempted + ring if answered else None
        terminated = (answered_at + timedelta(seconds=duration, milliseconds=rng.randint(
            0, 999))) if answered_at else attempted + ring
        call_sid = self._uuid()
        failed_inbound = direction == "inbound" and not answered
        ours = f"+1415{rng.randint(2000000, 9999999)}"
        other = self._number()
        cdr: dict[str, Any] = {
            "account_sid": self.account_sid,
            "service_provider_sid": "2708b1b3-2736-40ea-b502-c53d8396247f",
            "application_sid": None if failed_inbound else "7c9e6679-7425-40de-944b-e07fc1f90ae7",
            # the SBC attaches the call sid only once a call is answered (inbound)
            "call_sid": None if failed_inbound else call_sid,
            "from": other if direction == "inbound" else ours,
            "to": ours if direction == "inbound" else other,
            "answered": answered,
            "direction": direction,
            "sip_status": sip_status,
            "duration": duration,
            "termination_reason": reason,
            "host": f"10.0.1.{rng.randint(2, 9)}",
            "remote_host": f"54.172.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
            "trunk": rng.choice(TRUNKS),
            "sip_callid": f"{rng.getrandbits(64):016x}@{rng.randint(1, 254)}.carrier.example",
            "sip_parent_callid": None,
            "trace_id": None if failed_inbound else (
                f"{rng.getrandbits(128):032x}" if rng.random() < 0.9 else "0" * 32),
            "_attempted": attempted,
            "_answered": answered_at,
            "_terminated": terminated,
            "_seq": self._seq,
        }
        if answered and rng.random() < 0.4:
            day = attempted.strftime("%Y/%m/%d")
            cdr["recording_url"] = (f"/Accounts/{self.account_sid}/RecentCalls/{call_sid}"
                                    f"/record/{day}/mp3")
        return cdr

    def _add_tie(self) -> None:
        """Two CDRs attempted in the same millisecond (different tags: two points)."""
        if len(self.cdrs) < 3:
            return
        first = self.cdrs[len(self.cdrs) // 3]
        other = "outbound" if first["direction"] == "inbound" else "inbound"
        self._write(self._make_cdr(first["_attempted"], OUTCOMES[0], direction=other))

    def _write(self, cdr: dict[str, Any], sort: bool = True) -> None:
        """Store a CDR as InfluxDB does: same time and tags replace the earlier point."""
        if not cdr.get("_raw"):
            key = _point(cdr)
            old = self._points.get(key)
            if old is not None and _point(old) == key:  # (an update may have moved it)
                self.cdrs = [c for c in self.cdrs if c is not old]
            self._points[key] = cdr
        self.cdrs.append(cdr)
        if sort:
            self._sort()

    def _sort(self) -> None:
        """Newest first, by attempted_at, then by write."""
        self.cdrs.sort(key=lambda c: (_when(c), c["_seq"]), reverse=True)

    def _make_live(self, status: tuple[str, int, str]) -> dict[str, Any]:
        rng = self._rng
        name, sip_status, reason = status
        direction = rng.choice(["inbound", "outbound"])
        ours = f"+1415{rng.randint(2000000, 9999999)}"
        other = self._number()
        call_sid = self._uuid()
        call: dict[str, Any] = {
            "account_sid": self.account_sid,
            "application_sid": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
            "call_sid": call_sid,
            "call_id": f"{rng.getrandbits(64):016x}@10.0.2.{rng.randint(2, 9)}",
            "sbc_callid": f"{rng.getrandbits(64):016x}@{rng.randint(1, 254)}.carrier.example",
            "call_status": name,
            "sip_status": sip_status,
            "sip_reason": reason,
            "direction": direction,
            "from": other if direction == "inbound" else ours,
            "to": ours if direction == "inbound" else other,
            "caller_id": other if direction == "inbound" else ours,
            "trace_id": f"{rng.getrandbits(128):032x}",
            "service_url": f"http://10.0.2.{rng.randint(2, 9)}:3000",
            "fs_sip_address": f"10.0.2.{rng.randint(2, 9)}:5070",
            "originating_sip_trunk_name": rng.choice(TRUNKS),
            "_started": _ms(self.now - timedelta(seconds=rng.randint(5, 900))),
        }
        if name == "in-progress":
            call["duration"] = rng.randint(10, 600)  # the docs' example has one
        return call

    def render(self, cdr: dict[str, Any]) -> dict[str, Any]:
        """A CDR as the API serves it, in this simulator's time format and id spelling."""
        if cdr.get("_raw"):
            return self.public(cdr)
        out = self.public(cdr)
        if self.call_id_field != "sip_callid":
            out[self.call_id_field] = out.pop("sip_callid")
        attempted, answered, terminated = cdr["_attempted"], cdr["_answered"], cdr["_terminated"]
        if self.time_format == "epoch_ms":
            out["attempted_at"] = _epoch_ms(attempted)
            out["answered_at"] = _epoch_ms(answered) if answered else 0
            out["terminated_at"] = _epoch_ms(terminated)
        else:
            out["attempted_at"] = _rfc3339_trimmed(attempted)
            out["answered_at"] = _iso3(answered or EPOCH)
            out["terminated_at"] = _iso3(terminated)
        return out

    @staticmethod
    def public(call: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in call.items() if not k.startswith("_")}

    def all_calls(self) -> list[dict[str, Any]]:
        """Every CDR as served, newest first (lazy mode: small sizes only, it builds them
        all)."""
        with self._lock:
            view = self.store.view()
        return view.calls(range(len(view) - 1, -1, -1))

    def count(self) -> int:
        """How many CDRs the account has (what a full sync loads), without building them."""
        with self._lock:
            return len(self.store.view())

    # -- lazy mode ---------------------------------------------------------
    def _setup_lazy(self) -> None:
        self._timeline = Timeline(self.now, timedelta(weeks=self.weeks), self.size, self.seed)
        self._sid_salt = salt(self.seed, 0, "call_sid")
        self._sip_salt = salt(self.seed, 0, "sip_callid")
        t0 = datetime(2026, 1, 1, tzinfo=UTC)
        self._templates = [self._template(self._make_cdr(t0, self._rng.choice(OUTCOMES)))
                           for _ in range(TEMPLATES)]
        # two CDRs in the same millisecond, with other tags: the pair (tie - 1, tie)
        self._tie = self.size - self.size // 3 if self.size >= 3 else None
        self._special = {}
        if self._tie is not None:
            first = self._templates[(self._tie - 1) % TEMPLATES][0]
            other = "outbound" if first["direction"] == "inbound" else "inbound"
            self._special[self._tie] = self._template(self._make_cdr(t0, OUTCOMES[0], other))
        # RecentCalls names no CDR by id: a lazy CDR is never looked up by its key
        self.store = LazyStore(self.size, self._attempted, self._lazy_cdrs,
                               lambda i: _key(self._lazy_cdr(i)), lambda key: None,
                               on_extend=self._extended)

    @staticmethod
    def _template(cdr: dict[str, Any]) -> tuple[dict[str, Any], int | None, int, str]:
        """A made CDR as (record, answered and terminated offsets from its attempt in us,
        the host part of its sip_callid)."""
        attempted = micros(cdr["_attempted"])
        answered = micros(cdr["_answered"]) - attempted if cdr["_answered"] else None
        return (JambonzSim.public(cdr), answered, micros(cdr["_terminated"]) - attempted,
                cdr["sip_callid"].partition("@")[2])

    def _attempted(self, i: int) -> int:
        """When lazy CDR i was attempted, epoch us (milliseconds; every tenth on a second)."""
        if i == self._tie:
            i -= 1
        at = self._timeline.at(i)
        return at // SECOND * SECOND if i % 10 == 3 else at // 1000 * 1000

    def _lazy_cdrs(self, indices: Iterable[int]) -> list[dict[str, Any]]:
        return [self._lazy_cdr(i) for i in indices]

    def _lazy_cdr(self, i: int) -> dict[str, Any]:
        """Lazy CDR i (0 = oldest) as served, the same every time."""
        self.made += 1
        record, answered, terminated, host = (
            self._special.get(i) or self._templates[i % TEMPLATES])
        out = dict(record)
        attempted = self._attempted(i)
        n = mix(i, self._sid_salt, 62)  # distinct per i: the last 62 bits of the uuid
        head = n * 0x2545F4914F6CDD1D & 0xFFFFFFFFFFFFFFFF
        call_sid = (f"{head >> 32:08x}-{head >> 16 & 0xffff:04x}-4{head & 0xfff:03x}-"
                    f"{0x8000 | n >> 48:04x}-{n & 0xffffffffffff:012x}")
        if out["call_sid"] is not None:
            out["call_sid"] = call_sid
        out["sip_callid"] = f"{mix(i, self._sip_salt, 64):016x}@{host}"
        if "recording_url" in out:
            day = ISO3.write(attempted)[:10].replace("-", "/")
            out["recording_url"] = (f"/Accounts/{self.account_sid}/RecentCalls/{call_sid}"
                                    f"/record/{day}/mp3")
        if self.call_id_field != "sip_callid":
            out[self.call_id_field] = out.pop("sip_callid")
        answered_at = attempted + answered if answered is not None else None
        if self.time_format == "epoch_ms":
            out["attempted_at"] = attempted // 1000
            out["answered_at"] = answered_at // 1000 if answered_at is not None else 0
            out["terminated_at"] = (attempted + terminated) // 1000
        else:
            text = ISO3.write(attempted)
            out["attempted_at"] = text[:-1].rstrip("0").rstrip(".") + "Z"
            out["answered_at"] = (ISO3.write(answered_at) if answered_at is not None
                                  else EPOCH_ISO3)
            out["terminated_at"] = ISO3.write(attempted + terminated)
        return out

    def extend(self, n: int) -> None:
        """Write `n` CDRs attempted after every other (the clock moves on)."""
        if not self.lazy:
            self.add_calls(n)
            return
        with self._lock:
            self.store.extend(n)

    def _extended(self, count: int) -> None:
        self.now = max(self.now, moment(self._attempted(count - 1)) + timedelta(seconds=1))

    def live_calls(self) -> list[dict[str, Any]]:
        with self._lock:
            return [self.public(c) for c in self.live]

    def _find(self, call_id: str) -> dict[str, Any]:
        for cdr in self.cdrs:
            if call_id in (cdr.get("call_sid"), cdr.get("sip_callid")):
                return cdr
        raise KeyError(call_id)

    # -- mutations for tests -----------------------------------------------
    def add_calls(
        self, n: int, outcome: tuple[bool, int, str, str | None] = OUTCOMES[0],
        direction: str | None = None,
    ) -> list[dict[str, Any]]:
        """Write `n` CDRs attempted after every other (the clock moves a minute per call)."""
        if self.lazy:
            raise EagerOnly("add_calls")
        added = []
        with self._lock:
            for _ in range(n):
                self.now += timedelta(minutes=1)
                cdr = self._make_cdr(_ms(self.now - timedelta(seconds=30)), outcome, direction)
                self._write(cdr)
                added.append(self.render(cdr))
        return added

    def add_call_at(self, attempted: datetime, direction: str = "outbound",
                    **fields: Any) -> dict[str, Any]:
        """Write one answered CDR attempted at exactly `attempted` (e.g. on the cursor);
        `fields` override generated ones (`host`, `trunk`: the point's tags)."""
        if self.lazy:
            raise EagerOnly("add_call_at")
        with self._lock:
            cdr = self._make_cdr(attempted, OUTCOMES[0], direction)
            cdr.update(fields)
            self._write(cdr)
            return self.render(cdr)

    def update_call(self, call_id: str, **fields: Any) -> dict[str, Any]:
        """Rewrite a CDR (same time and tags: InfluxDB keeps the later write's fields)."""
        if self.lazy:
            raise EagerOnly("update_call")
        with self._lock:
            cdr = self._find(call_id)
            cdr.update(fields)
            return self.render(cdr)

    def complete_call(self, call_sid: str, duration: int = 61) -> dict[str, Any]:
        """A live call hangs up after `duration` s: it leaves the live list and its CDR
        (answered, 200, attempted when it started) is written."""
        if self.lazy:
            raise EagerOnly("complete_call")
        with self._lock:
            live = next(c for c in self.live if c["call_sid"] == call_sid)
            self.live.remove(live)
            started = live["_started"]
            answered_at = started + timedelta(seconds=4, milliseconds=250)
            cdr = self._make_cdr(started, OUTCOMES[0], live["direction"])
            cdr.update({
                "call_sid": call_sid, "from": live["from"], "to": live["to"],
                "duration": duration, "trunk": live["originating_sip_trunk_name"],
                "sip_callid": live["sbc_callid"], "_answered": answered_at,
                "_terminated": answered_at + timedelta(seconds=duration, milliseconds=500),
            })
            cdr.pop("recording_url", None)
            self._write(cdr)
            return self.render(cdr)

    def add_live_call(self, status: str = "ringing") -> dict[str, Any]:
        with self._lock:
            found = next(s for s in LIVE_STATUSES if s[0] == status)
            call = self._make_live(found)
            self.live.append(call)
            return self.public(call)

    def put_raw(self, record: dict[str, Any], attempted: datetime) -> None:
        """Store any record (even a malformed one) as served, placed at `attempted`."""
        if self.lazy:
            raise EagerOnly("put_raw")
        with self._lock:
            self._seq += 1
            self.cdrs.append(dict(record, _raw=True, _ts=attempted, _seq=self._seq))
            self.cdrs.sort(key=lambda c: (_when(c), c["_seq"]), reverse=True)

    def fail_next_on(self, endpoint: str, status: int, body: Any = None) -> None:
        """Answer the next request of one endpoint (`RecentCalls` or `Calls`) with `status`."""
        with self._lock:
            self._faults.append((endpoint, Response(
                status, body if body is not None else {"msg": "injected failure"})))

    # -- routes ------------------------------------------------------------
    def register(self, sim: Simulator) -> None:
        sim.route(SLUG, "GET", "/v1/Accounts/{account_sid}/RecentCalls", self._recent_calls)
        sim.route(SLUG, "GET", "/v1/Accounts/{account_sid}/Calls", self._live_calls)

    def _rate(self) -> tuple[dict[str, str], bool]:
        """Count one request against the global bucket: its headers, and whether over."""
        now = self.timer()
        with self._lock:
            if self._window_start is None or now - self._window_start >= self.rate_window_seconds:
                self._window_start, self._window_used = now, 0
            self._window_used += 1
            used = self._window_used
            reset = max(0, int(self._window_start + self.rate_window_seconds - now + 0.999))
        headers = {
            "RateLimit-Policy": f"{self.rate_limit};w={self.rate_window_seconds}",
            "RateLimit-Limit": str(self.rate_limit),
            "RateLimit-Remaining": str(max(0, self.rate_limit - used)),
            "RateLimit-Reset": str(reset),
        }
        if used > self.rate_limit:
            headers["Retry-After"] = str(reset)
        return headers, used > self.rate_limit

    def _take_fault(self, endpoint: str) -> Response | None:
        with self._lock:
            for i, (where, response) in enumerate(self._faults):
                if where == endpoint:
                    del self._faults[i]
                    return response
        return None

    def _guard(self, request: Request, params: dict[str, str], endpoint: str,
               forbidden: Response) -> tuple[dict[str, str], Response | None]:
        """Rate limit, fault, auth and account checks, in the server's order: the
        rate-limit headers, and the refusal if there is one."""
        headers, over = self._rate()
        refused: Response | None
        if over:
            refused = Response(429, "Too many requests, please try again later.")
        else:
            refused = self._take_fault(endpoint)
        if refused is None:
            scheme, _, token = (request.header("authorization") or "").partition(" ")
            if scheme.lower() != "bearer" or token.strip() != self.api_key:
                refused = Response(401, "Unauthorized")
            elif not UUID.match(params["account_sid"]):
                refused = _fail(400, "invalid AccountsSid format")
            elif params["account_sid"].lower() != self.account_sid:
                refused = forbidden
        if refused is not None:
            refused.headers = {**refused.headers, **headers}
        return headers, refused

    def _recent_calls(self, request: Request, params: dict[str, str]) -> Response:
        headers, refused = self._guard(request, params, "RecentCalls",
                                       _fail(403, "insufficient privileges"))
        if refused is not None:
            return refused
        query = request.query
        page_text, count_text = query.get("page"), query.get("count")
        if not page_text or not page_text.strip().lstrip("-").isdigit() or int(page_text) < 1:
            return Response(400, {"msg": "missing or invalid \"page\" query arg"}, headers)
        if count_text is None or count_text == "":
            return Response(400, {"msg": "missing or invalid \"count\" query arg"}, headers)
        if not count_text.strip().lstrip("-").isdigit():
            return Response(500, {"msg": "Cannot read count: invalid integer"}, headers)
        page, count = int(page_text), int(count_text)
        if count < 0 or count > MAX_COUNT:
            return Response(400, {"msg": "missing or invalid \"count\" query arg"}, headers)
        try:
            view, matched = self._match(query)
        except re.error:
            return Response(500, {"msg": "invalid regular expression"}, headers)
        total = len(matched)
        rows = matched if count == 0 else matched[(page - 1) * count:page * count]
        if page in self.lost_pages:
            rows = []
        data = view.calls(rows)
        if self.envelope == "docs":
            body: dict[str, Any] = {"total": total, "batch": count, "page": page, "data": data}
        else:
            body = {"total": total, "page_size": count_text, "page": page_text, "data": data}
        if self.after_page is not None:
            self.after_page(page)
        return Response(200, body, headers)

    def _match(self, query: dict[str, str]) -> tuple[CallView, Sequence[int]]:
        """The store's view and the indices of the CDRs matching the query's filters,
        newest first: time bounds are bisects, the other filters scan what they leave."""
        with self._lock:
            view = self.store.view()
            now = self.now
        start: datetime | None = None
        end: datetime | None = None
        days = query.get("days")
        after: datetime | None = None  # `days`: strictly after now - days
        if days and days.strip().isdigit():
            after = now - timedelta(days=int(days))  # `days` wins over start/end
        else:
            for name in ("start", "end"):
                value = query.get(name)
                if value is None:
                    continue
                bound = _parse_bound(value)
                if bound is None:
                    return view, []  # InfluxDB compares against an unreadable time: no match
                if name == "start":
                    start = bound
                else:
                    end = bound
        answered = {"true": True, "false": False}.get(query.get("answered", ""))
        direction, trunk = query.get("direction"), query.get("trunk")
        pattern = query.get("filter")
        regex = re.compile(pattern) if pattern else None
        lo = view.lower(start) if start is not None else 0
        if after is not None:
            lo = max(lo, view.upper(after))
        hi = view.upper(end) if end is not None else len(view)
        rows = range(hi - 1, lo - 1, -1)
        if answered is None and not direction and not trunk and regex is None:
            return view, rows

        def matches(cdr: dict[str, Any]) -> bool:
            if answered is not None and cdr.get("answered") is not answered:
                return False
            if direction and cdr.get("direction") != direction:
                return False
            if trunk and cdr.get("trunk") != trunk:
                return False
            return regex is None or bool(
                regex.search(str(cdr.get("from", ""))) or regex.search(
                    str(cdr.get("to", ""))) or cdr.get("call_sid") == pattern)

        return view, [i for i, cdr in chunked(view, rows) if matches(cdr)]

    def _live_calls(self, request: Request, params: dict[str, str]) -> Response:
        headers, refused = self._guard(request, params, "Calls",
                                       _msg(403, "insufficient permissions"))
        if refused is not None:
            return refused
        query = request.query
        wanted = {"direction": query.get("direction"), "from": query.get("from"),
                  "to": query.get("to"), "call_status": query.get("callStatus")}
        with self._lock:
            calls = [self.public(c) for c in self.live
                     if all(v is None or c.get(k) == v for k, v in wanted.items())]
            self._served += 1
            order = random.Random(self.seed * 1000 + self._served)
        order.shuffle(calls)  # a Redis scan: no defined order
        return Response(200, calls, headers)

    # -- configuration for callsync ------------------------------------------
    def config(self, url: str) -> dict[str, Any]:
        """The `[sources.jambonz]` values that point callsync at this simulator."""
        return {
            "base_url": f"{url}/v1",
            "api_key": self.api_key,
            "account_sid": self.account_sid,
            "start_date": (self.now - timedelta(weeks=self.weeks + 1)).date().isoformat(),
        }

    def describe(self, url: str) -> str:
        return (f"base_url={url}/v1 api_key={self.api_key} "
                f"account_sid={self.account_sid}")


ISO3 = Style(0, 3, "Z")
EPOCH_ISO3 = _iso3(EPOCH)


def _point(cdr: dict[str, Any]) -> tuple[Any, ...]:
    """An InfluxDB point's identity: its time and its tags."""
    return (cdr.get("_attempted"), *(cdr.get(t) for t in TAGS))


def _when(cdr: dict[str, Any]) -> datetime:
    """Where a held CDR sorts: its attempt (a raw record: where it was placed)."""
    return cdr["_ts"] if "_ts" in cdr else cdr["_attempted"]  # type: ignore[no-any-return]


def _key(cdr: dict[str, Any]) -> object:
    """A CDR's id: the call sid, else the SIP call id (a failed inbound call has none)."""
    return cdr.get("call_sid") or cdr.get("sip_callid") or cdr.get("sip_call_id")
