"""SIPSIM simulator: `POST /oauth/token`, `GET /api/v2/calls` and `GET /api/v2/calls/{id}`.

As SIPSIM's docs describe them (`sources/sipsim/README.md`, API notes), with these
decisions where they are silent:

- Auth: `Authorization: Bearer <token>`. Tokens come from the OAuth client-credentials
  endpoint (`expires_in` = `token_lifetime`, 7200 by default, on the simulator's clock) or
  are the account's static `access_token`. 401 for a missing, unknown or expired token
  (`{"status":401,"errors":[...],"request_id":...,"path":...}`, the expired one also says so
  in `WWW-Authenticate`); 403 for a token without the `calls.read` scope. The token
  endpoint answers 401 `{"error":"invalid_client"}` to bad client credentials.
- `start_time` is required (400 without it or when unreadable); `start_time`/`end_time`
  filter on `registration_time` (always set, unlike `start_time`), both ends inclusive;
  `end_time` defaults to the simulator's `now`. `limit` 20..1000 (default 1000; 400
  outside). `call_types`, `tags` and `search` filter; `employees` is accepted and ignored
  (records carry no employee).
- Order (undocumented): newest `registration_time` first (`order="asc"`: oldest first),
  ties by arrival. `page` is a keyset token, base64 of `{"id": <last id of the page>}`;
  an unreadable token or one naming no call of the result is a 400. The last page omits
  `page`.
- Records come in both documented forms: the field table's (`call_type`, `target_number`,
  integer `id`) and the code example's (`direction`, `receiver_number`), some with a
  string id (`"call_123"`); `sip_status` in the spellings API notes 8 lists; timestamps
  with `Z`, `+00:00`, or a local `+03:00` offset with `.000` milliseconds.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import random
import re
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson

from simulator.server import Request, Response, Simulator, query_int
from simulator.store import CallStore, LazyStore, ListStore, scan
from simulator.volume import (
    SECOND,
    TEMPLATES,
    EagerOnly,
    Style,
    Timeline,
    micros,
    moment,
)

SLUG = "sipsim"
API = "/api/v2"
TOKEN_PATH = "/oauth/token"
SCOPES = {"account.read", "calls.read", "calls.write", "calls.tags.write", "phones.read",
          "phones.write", "tags.read", "tags.write", "webhooks.read", "webhooks.write"}
CALL_TYPES = {"inbound": "inbound", "outbound": "outgoing", "outgoing": "outgoing",
              "missed": "missed", "voicemail": "voicemail"}  # record value -> filter value
MSK = timezone(timedelta(hours=3))
TAGS = [{"id": 10, "name": "Important"}, {"id": 20, "name": "Sales"},
        {"id": 30, "name": "Support"}]
# (call type as served, sip_status as served, weight): every row of the contract's SIPSIM
# status table, in the spellings the API's several vocabularies use
OUTCOMES: list[tuple[str, str, int]] = [
    ("inbound", "answer", 14), ("outbound", "answer", 8), ("outgoing", "ANSWER", 4),
    ("Inbound", "Answer", 2), ("inbound", "no_answer", 4), ("inbound", "NOANSWER", 2),
    ("outbound", "No-Answer", 2), ("outgoing", "noanswer", 1), ("outbound", "busy", 3),
    ("inbound", "BUSY", 1), ("outgoing", "cancel", 3), ("inbound", "CANCEL", 1),
    ("outbound", "unavailable", 2), ("inbound", "other", 1), ("missed", "no_answer", 4),
    ("missed", "busy", 1), ("missed", "cancel", 2), ("missed", "ANSWER", 1),
    ("voicemail", "answer", 3), ("VOICEMAIL", "no_answer", 1), ("inbound", "MISSED", 1),
]
ANSWERED_STATUSES = {"answer"}


def _token(value: str | None) -> str:
    return re.sub(r"[-_ ]", "", (value or "").strip().lower())


def _parse_time(value: str) -> datetime | None:
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def page_token(key: object) -> str:
    """The keyset token naming the last call of a page (base64 of `{"id": ...}`)."""
    return base64.b64encode(orjson.dumps({"id": key})).decode()


def _token_key(token: str) -> tuple[object] | None:
    """`(id,)` of the call a page token names, or None for a token that is not one of ours
    (the id itself may be null, hence the tuple)."""
    try:
        decoded = orjson.loads(base64.b64decode(token, validate=True))
    except (binascii.Error, ValueError):
        return None
    if not isinstance(decoded, dict) or "id" not in decoded:
        return None
    return (decoded["id"],)


@dataclass
class _Token:
    scopes: set[str]
    expires_at: datetime | None  # None: a static token that does not expire on its own


@dataclass
class SipsimSim:
    """Seeded SIPSIM account: `size` calls over `weeks` before `now` (a fixed clock).

    `lazy=True` holds no calls: call i (0 = oldest) is made on demand from a template
    cycle, registered at whole seconds increasing with i, with id `4100000 + i` (or
    `"call_<i>"`), so a time filter is a bisect and a page token names an index. The
    newest initial call is live, as in eager mode. `extend(n)` adds n newer calls; the
    other mutations need eager mode.
    """

    access_token: str = "sipsim-static-access-token"
    client_id: str = "sipsim-client-7f3a"
    client_secret: str = "sipsim-client-secret-9d1c2b"
    size: int = 200
    weeks: int = 3
    seed: int = 7
    now: datetime = field(default_factory=lambda: datetime(2026, 11, 1, 12, 0, tzinfo=UTC))
    token_lifetime: int = 7200
    order: str = "desc"
    min_limit: int = 20
    max_limit: int = 1000
    lazy: bool = False

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._lock = threading.Lock()
        self._seq = 0
        self._issued = 0
        self._request_ids = 0
        self.tokens: dict[str, _Token] = {
            self.access_token: _Token({"calls.read", "account.read"}, None)}
        self.calls: list[dict[str, Any]] = []  # with internal `_ts`, `_seq`, `_key`
        self.made = 0  # records built by the lazy generator (tests count them)
        self.store: CallStore
        if self.lazy:
            self._setup_lazy()
            return
        self.store = ListStore(lambda: sorted(self.calls, key=self._sort_key),
                               time=lambda c: c["_ts"], serve=self.public,
                               key=lambda c: c["_key"], add=self.add_calls)
        span = timedelta(weeks=self.weeks).total_seconds()
        step = span / max(self.size, 1)
        for i in range(self.size, 0, -1):
            registered = self.now - timedelta(seconds=(i - 1) * step
                                              + self._rng.uniform(step * 0.1, step * 0.8))
            if i == 1:
                self.calls.append(self._make_live_call(self.now - timedelta(seconds=90)))
            else:
                self.calls.append(self._make_call(registered, *self._outcome()))

    # -- data --------------------------------------------------------------
    def _outcome(self) -> tuple[str, str]:
        kinds = [(t, s) for t, s, _ in OUTCOMES]
        weights = [w for _, _, w in OUTCOMES]
        return self._rng.choices(kinds, weights)[0]

    def _number(self) -> str:
        """A party's number in the forms the API is seen to return."""
        rng = self._rng
        digits = f"375{rng.choice(['29', '33', '44', '25'])}{rng.randint(1000000, 9999999)}"
        form = rng.random()
        if form < 0.70:
            return f"+{digits}"
        if form < 0.80:
            return digits  # 12 bare digits: E.164 without its +
        if form < 0.86:
            return f"+{digits[:3]} {digits[3:5]} {digits[5:8]}-{digits[8:10]}-{digits[10:]}"
        if form < 0.91:
            return f"00{digits}"
        if form < 0.96:
            return "anonymous"
        return str(rng.randint(100, 199))  # an internal extension

    def _stamp(self, style: str, moment: datetime | None) -> str | None:
        if moment is None:
            return None
        if style == "msk":  # v1 records: local offset and milliseconds
            return moment.astimezone(MSK).isoformat(timespec="milliseconds")
        text = moment.astimezone(UTC).isoformat(timespec="seconds")
        return text.replace("+00:00", "Z") if style == "z" else text

    def _ids(self) -> tuple[int | str, int]:
        self._seq += 1
        call_id: int | str = 4_100_000 + self._seq
        if self._rng.random() < 0.15:
            call_id = f"call_{self._seq}"  # the guide's string form
        return call_id, self._seq

    def _make_call(
        self, registered: datetime, call_type: str, sip_status: str,
        duration: int | None = None,
    ) -> dict[str, Any]:
        rng = self._rng
        registered = registered.replace(microsecond=0)  # as served: whole seconds
        call_id, seq = self._ids()
        style = rng.choice(["z", "z", "z", "msk", "msk", "utc"])
        answered = _token(sip_status) in ANSWERED_STATUSES and _token(call_type) != "missed"
        ring = rng.randint(2, 30)
        started = answered_at = ended = None
        talk = 0
        if answered:
            started = registered + timedelta(seconds=rng.randint(1, 8))
            answered_at = started + timedelta(seconds=ring)
            talk = duration if duration is not None else rng.randint(10, 1200)
            ended = answered_at + timedelta(seconds=talk)
        else:
            ended = registered + timedelta(seconds=ring)
        ours, theirs = f"+37517{rng.randint(2000000, 2999999)}", self._number()
        outbound = _token(call_type) in ("outbound", "outgoing")
        example_form = rng.random() < 0.15  # the seed's Python example's field names
        call: dict[str, Any] = {
            "id": call_id,
            "direction" if example_form else "call_type": call_type,
            "sip_status": sip_status,
            "caller_number": ours if outbound else theirs,
            "receiver_number" if example_form else "target_number": theirs if outbound else ours,
            "answered_phone_number": (theirs if outbound else ours) if answered else None,
            "answered": answered if _token(call_type) != "voicemail" else rng.random() < 0.5,
            "wait_duration_sec": ring,
            "duration_sec": talk,
            "play_record_link": (f"https://app.sipsim.com/records/{call_id}.mp3"
                                 if answered and rng.random() < 0.8 else None),
            "phone_id": 400 + rng.randint(0, 9),
            "answered_phone_id": 700 + rng.randint(0, 9) if answered else None,
            "registration_time": self._stamp(style, registered),
            "start_time": self._stamp(style, started),
            "answered_time": self._stamp(style, answered_at),
            "end_time": self._stamp(style, ended),
            "tags": rng.sample(TAGS, rng.choice([0, 0, 1, 2])),
            "_ts": registered, "_seq": seq, "_key": call_id, "_style": style,
        }
        if answered and rng.random() < 0.1:
            call["wait_duration_sec"] = None  # staging falls back to answered - started
        if answered and rng.random() < 0.05:
            del call["duration_sec"]  # staging falls back to ended - answered
        return call

    def _make_live_call(self, registered: datetime) -> dict[str, Any]:
        """A call still going on: answered, no end time, no duration yet."""
        call = self._make_call(registered, "inbound", "answer")
        call.update(end_time=None, duration_sec=None, play_record_link=None)
        return call

    @staticmethod
    def public(call: dict[str, Any]) -> Any:
        """A stored call as served: without the internal keys (a raw non-object as is)."""
        if "_raw" in call:
            return call["_raw"]
        return {k: v for k, v in call.items() if not k.startswith("_")}

    def all_calls(self) -> list[dict[str, Any]]:
        """Every call record as served (without internal keys), oldest first (lazy mode:
        small sizes only, it builds them all)."""
        with self._lock:
            view = self.store.view()
            return view.calls(range(len(view)))

    def count(self) -> int:
        """How many calls the account has (what a full sync loads), without building them."""
        with self._lock:
            return len(self.store.view())

    # -- lazy mode ---------------------------------------------------------
    def _setup_lazy(self) -> None:
        self._timeline = Timeline(self.now, timedelta(weeks=self.weeks), self.size, self.seed)
        t0 = datetime(2026, 1, 1, tzinfo=UTC)
        self._templates = [self._template(self._make_call(t0, *self._outcome()))
                           for _ in range(TEMPLATES)]
        self._live = self._template(self._make_live_call(t0))
        self.store = LazyStore(self.size, self._registered, self._lazy_calls, self._lazy_id,
                               self._index_of, on_extend=self._extended)

    @staticmethod
    def _template(call: dict[str, Any]) -> tuple[dict[str, Any], Style, list[tuple[
            str, int]], bool, bool]:
        """A made call as (record, its time style, (field, offset from registration in
        us) per time it has, whether the id is text, whether it has a recording link)."""
        style, registered = Style.of(call["registration_time"])
        offsets = [(name, micros(Style.of(call[name])[1]) - micros(registered))
                   for name in ("start_time", "answered_time", "end_time") if call[name]]
        return (SipsimSim.public(call), style, offsets, isinstance(call["id"], str),
                call["play_record_link"] is not None)

    def _registered(self, i: int) -> int:
        """Registration time of lazy call i, epoch us (whole seconds, as served)."""
        return self._timeline.at(i) // SECOND * SECOND

    def _lazy_calls(self, indices: Iterable[int]) -> list[dict[str, Any]]:
        return [self._lazy_call(i) for i in indices]

    def _lazy_call(self, i: int) -> dict[str, Any]:
        """Lazy call i (0 = oldest), the same every time."""
        self.made += 1
        record, style, offsets, text_id, link = (
            self._live if i == self.size - 1 else self._templates[i % TEMPLATES])
        call = dict(record)
        registered = self._registered(i)
        call_id: int | str = f"call_{i}" if text_id else 4_100_000 + i
        call["id"] = call_id
        call["registration_time"] = style.write(registered)
        for name, offset in offsets:
            call[name] = style.write(registered + offset)
        if link:
            call["play_record_link"] = f"https://app.sipsim.com/records/{call_id}.mp3"
        return call

    @staticmethod
    def _index_of(call_id: object) -> int | None:
        """The index a lazy call id would name (its text, or as served), or None; the
        store checks it names a call."""
        text = str(call_id)
        digits = text.removeprefix("call_")
        if not digits.isdigit():
            return None
        return int(digits) - (0 if text.startswith("call_") else 4_100_000)

    def _lazy_id(self, i: int) -> int | str:
        text_id = False if i == self.size - 1 else self._templates[i % TEMPLATES][3]
        return f"call_{i}" if text_id else 4_100_000 + i

    def extend(self, n: int) -> None:
        """Add `n` calls registered after every call so far (the clock moves past them)."""
        if not self.lazy:
            self.add_calls(n)
            return
        with self._lock:
            self.store.extend(n)

    def _extended(self, count: int) -> None:
        self.now = max(self.now, moment(self._registered(count - 1)) + timedelta(seconds=1))

    @staticmethod
    def _sort_key(call: dict[str, Any]) -> tuple[datetime, int]:
        return call["_ts"], call["_seq"]

    def find(self, call_id: object) -> dict[str, Any]:
        """The stored call (internal keys included) whose id, as text, is `call_id`."""
        call = self.store.get(str(call_id))
        if call is None:
            raise KeyError(call_id)
        return call

    # -- mutations for tests -----------------------------------------------
    def add_calls(self, n: int, call_type: str = "inbound", sip_status: str = "answer",
                  duration: int = 60) -> list[dict[str, Any]]:
        """Add `n` ended calls registered after every call so far; the clock moves past them."""
        if self.lazy:
            raise EagerOnly("add_calls")
        added = []
        with self._lock:
            for _ in range(n):
                latest = max(c["_ts"] for c in self.calls) if self.calls else self.now
                registered = max(self.now, latest) + timedelta(minutes=1)
                call = self._make_call(registered, call_type, sip_status, duration)
                self.calls.append(call)
                ended = _parse_time(call["end_time"])
                self.now = max(self.now, (ended or registered) + timedelta(seconds=1))
                added.append(self.public(call))
        return added

    def add_live_call(self) -> dict[str, Any]:
        """A call registered now (after every call so far) that is still going on:
        answered, no end time, no duration yet."""
        if self.lazy:
            raise EagerOnly("add_live_call")
        with self._lock:
            latest = max(c["_ts"] for c in self.calls) if self.calls else self.now
            registered = max(self.now, latest + timedelta(seconds=1))
            call = self._make_live_call(registered)
            self.calls.append(call)
            self.now = max(self.now, registered + timedelta(seconds=60))
            return self.public(call)

    def complete_call(self, call_id: object, duration: int = 61) -> dict[str, Any]:
        """A live call ends: an end time, a duration and a recording link appear."""
        if self.lazy:
            raise EagerOnly("complete_call")
        with self._lock:
            call = self.find(call_id)
            answered = _parse_time(call.get("answered_time") or "") or call["_ts"]
            ended = answered + timedelta(seconds=duration)
            call.update(end_time=self._stamp(call["_style"], ended), duration_sec=duration,
                        sip_status="answer", answered=True,
                        play_record_link=f"https://app.sipsim.com/records/{call['id']}.mp3")
            self.now = max(self.now, ended + timedelta(seconds=1))
            return self.public(call)

    def put_raw(self, record: Any, at: datetime) -> None:
        """Serve any record (even a malformed one) as if registered at `at`."""
        if self.lazy:
            raise EagerOnly("put_raw")
        with self._lock:
            self._seq += 1
            key = record.get("id") if isinstance(record, dict) else None
            stored = dict(record) if isinstance(record, dict) else {"_raw": record}
            stored.update(_ts=at, _seq=self._seq, _key=key if key is not None
                          else f"_raw{self._seq}", _style="z")
            self.calls.append(stored)

    def issue_token(self, scopes: str = "calls.read", lifetime: int | None = None) -> str:
        """A token as the token endpoint would issue it (for tests of scopes and expiry)."""
        with self._lock:
            return self._issue(set(scopes.split()), lifetime)

    def _issue(self, scopes: set[str], lifetime: int | None) -> str:
        self._issued += 1
        digest = hashlib.sha256(f"{self.seed}:{self._issued}".encode()).hexdigest()[:24]
        token = f"sim-at-{self._issued:04d}-{digest}"
        seconds = self.token_lifetime if lifetime is None else lifetime
        self.tokens[token] = _Token(scopes, self.now + timedelta(seconds=seconds))
        return token

    def expire_tokens(self) -> None:
        """Every token issued so far (the static one too) has now expired."""
        with self._lock:
            for token in self.tokens.values():
                token.expires_at = self.now - timedelta(seconds=1)

    # -- routes ------------------------------------------------------------
    def register(self, sim: Simulator) -> None:
        sim.route(SLUG, "POST", TOKEN_PATH, self._token_endpoint)
        sim.route(SLUG, "GET", f"{API}/calls", self._calls)
        sim.route(SLUG, "GET", f"{API}/calls/{{call_id}}", self._call)

    def _error(self, status: int, message: str, path: str,
               headers: dict[str, str] | None = None) -> Response:
        return Response(status, {"status": status, "errors": [message],
                                 "request_id": self._request_id(), "path": path},
                        headers or {})

    def _request_id(self) -> str:
        self._request_ids += 1
        return str(uuid.UUID(int=(self.seed << 64) + self._request_ids))

    def _envelope(self, data: Any, pagination: dict[str, Any] | None = None) -> Response:
        body = {"status": 200, "request_id": self._request_id(),
                "timestamp": self.now.isoformat(timespec="seconds").replace("+00:00", "Z"),
                "data": data}
        if pagination is not None:
            body["pagination"] = pagination
        return Response(200, body)

    def _authorize(self, request: Request) -> Response | None:
        header = request.header("authorization") or ""
        scheme, _, value = header.strip().partition(" ")
        if not header.strip():
            return self._error(401, "Missing access token", request.path,
                               {"WWW-Authenticate": 'Bearer realm="sipsim"'})
        token = self.tokens.get(value.strip()) if scheme.lower() == "bearer" else None
        if token is None:
            return self._error(401, "Invalid access token", request.path,
                               {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        if token.expires_at is not None and self.now >= token.expires_at:
            return self._error(401, "Access token expired", request.path, {
                "WWW-Authenticate": 'Bearer error="invalid_token", '
                                    'error_description="The access token expired"'})
        if "calls.read" not in token.scopes:
            return self._error(403, "Insufficient scope: calls.read required", request.path)
        return None

    def _token_endpoint(self, request: Request, _: dict[str, str]) -> Response:
        form = request.query
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        basic = request.header("authorization") or ""
        if basic.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(basic[6:].strip()).decode()
                client_id, _sep, client_secret = decoded.partition(":")
            except (binascii.Error, UnicodeDecodeError):
                client_id = client_secret = None
        grant = form.get("grant_type")
        with self._lock:
            if not grant:
                return Response(400, {"error": "invalid_request",
                                      "error_description": "grant_type is required"})
            if grant != "client_credentials":
                return Response(400, {"error": "unsupported_grant_type"})
            if client_id != self.client_id or client_secret != self.client_secret:
                return Response(401, {"error": "invalid_client",
                                      "error_description": "Client authentication failed"})
            requested = set((form.get("scope") or "calls.read account.read").split())
            if not requested <= SCOPES:
                return Response(400, {"error": "invalid_scope"})
            token = self._issue(requested, None)
            return Response(200, {
                "access_token": token, "token_type": "Bearer",
                "expires_in": self.token_lifetime, "scope": " ".join(sorted(requested)),
                "created_at": int(self.now.timestamp()),
            })

    def _calls(self, request: Request, _: dict[str, str]) -> Response:
        with self._lock:
            refused = self._authorize(request)
            if refused is not None:
                return refused
            return self._list(request)

    def _list(self, request: Request) -> Response:
        path, query = request.path, request.query
        if not (query.get("start_time") or "").strip():
            return self._error(400, "start_time is required", path)
        start = _parse_time(query["start_time"])
        if start is None:
            return self._error(400, "start_time must be an ISO 8601 datetime", path)
        end = self.now
        if (query.get("end_time") or "").strip():
            parsed_end = _parse_time(query["end_time"])
            if parsed_end is None:
                return self._error(400, "end_time must be an ISO 8601 datetime", path)
            end = parsed_end
        limit = query_int(request, "limit", self.max_limit)
        if limit is None or not self.min_limit <= limit <= self.max_limit:
            return self._error(
                400, f"limit must be between {self.min_limit} and {self.max_limit}", path)
        wanted = {t.strip() for t in (query.get("call_types") or "").split(",") if t.strip()}
        if not wanted <= set(CALL_TYPES.values()):
            return self._error(400, "call_types must be a comma-separated list of inbound, "
                               "outgoing, missed, voicemail", path)
        try:
            tags = {int(t) for t in (query.get("tags") or "").split(",") if t.strip()}
        except ValueError:
            return self._error(400, "tags must be a comma-separated list of tag IDs", path)
        search = re.sub(r"\D", "", query.get("search") or "")
        selected = self._select(start, end, limit, query.get("page"), wanted, tags, search)
        if selected is None:
            return self._error(400, "Invalid page token", path)
        page, has_more, last = selected
        pagination: dict[str, Any] = {"count": len(page), "limit": limit, "has_more": has_more}
        if has_more:
            pagination["page"] = page_token(last)
        return self._envelope(page, pagination)

    def _select(self, start: datetime, end: datetime, limit: int, token: str | None,
                wanted: set[str], tags: set[int], search: str,
                ) -> tuple[list[Any], bool, object] | None:
        """One page of the calls as served, whether more follow and the key of its last
        call (None: the page token names no call of the result). The time window is a
        bisect, the token a position; other filters scan from there (O(calls skipped),
        as a server would). (The caller holds the lock.)"""
        view = self.store.view()
        lo, hi = view.lower(start), view.upper(end)
        order = range(hi - 1, lo - 1, -1) if self.order != "asc" else range(lo, hi)
        filtered = bool(wanted or tags or search)
        if token:
            key = _token_key(token)
            named = None if key is None else view.find(key[0], order)
            if named is None:
                return None
            if filtered and not self._matches(view.calls((named,))[0], wanted, tags, search):
                return None
            order = order[order.index(named) + 1:]
        if filtered:
            page, where, more = scan(view, order, limit,
                                     lambda c: self._matches(c, wanted, tags, search))
        else:
            where = list(order[:limit])
            page, more = view.calls(where), len(order) > limit
        return page, more, view.key(where[-1]) if where else None

    @staticmethod
    def _matches(call: dict[str, Any], types: set[str], tags: set[int], search: str) -> bool:
        kind = CALL_TYPES.get(_token(call.get("call_type") or call.get("direction")))
        if types and kind not in types:
            return False
        listed = call.get("tags")
        ids = {t.get("id") for t in (listed if isinstance(listed, list) else [])
               if isinstance(t, dict)}
        if tags and not tags & ids:
            return False
        numbers = [call.get(k) for k in ("caller_number", "target_number", "receiver_number")]
        return not search or any(search in re.sub(r"\D", "", str(n or "")) for n in numbers)

    def _call(self, request: Request, params: dict[str, str]) -> Response:
        with self._lock:
            refused = self._authorize(request)
            if refused is not None:
                return refused
            try:
                call = self.find(params["call_id"])
            except KeyError:
                return self._error(404, "Call not found", request.path)
            return self._envelope(self.public(call))

    # -- configuration for callsync ------------------------------------------
    def config(self, url: str) -> dict[str, Any]:
        """The `[sources.sipsim]` values that point callsync at this simulator."""
        return {
            "base_url": f"{url}{API}",
            "token_url": f"{url}{TOKEN_PATH}",
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "start_date": (self.now - timedelta(weeks=self.weeks + 1)).date().isoformat(),
        }

    def describe(self, url: str) -> str:
        return (f"client_id={self.client_id} client_secret={self.client_secret} "
                f"token_url={url}{TOKEN_PATH} (or access_token={self.access_token})")
