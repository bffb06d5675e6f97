"""Unfinished calls, followed to the end: which ones a sync fetches again, and how far back.

A call whose `calls` row was unfinished at its last load (the view `calls_unfinished`) is
fetched again on every later sync until it is final or started more than
`max_follow_seconds` ago: by id where the API has a by-id endpoint (SIPSIM), else by
reading its partition back to the oldest such call (a second walk in a resource of its
own, without an incremental: the cursor never moves because of it). A followed call
that the sync's own walk loaded again (it started inside the lookback) is not fetched a
second time (`Reread`). The pipeline reads the list from the warehouse and passes it as
the source function's `unfinished` argument, so every source stays a plain dlt source.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc

from sources._config import check_seconds
from sources._pages import batched

DEFAULT_MAX_FOLLOW_SECONDS = 86400


@dataclass(frozen=True)
class Unfinished:
    """A call whose last load left it unfinished: its id, partition and start."""

    call_id: str
    account_id: str | None
    started_at: datetime


def check_max_follow(slug: str, value: object) -> int:
    """`max_follow_seconds` as whole seconds >= 0 (default 86400), or a `ConfigError`."""
    return check_seconds(slug, "max_follow_seconds", value, DEFAULT_MAX_FOLLOW_SECONDS)


def now(clock: Callable[[], datetime] | None) -> datetime:
    """`clock()`, else the wall clock (UTC)."""
    return clock() if clock is not None else datetime.now(UTC)


def followed(
    slug: str, unfinished: Iterable[Unfinished] | None, max_follow_seconds: object,
    at: datetime, backfill: object = None,
) -> list[Unfinished]:
    """The unfinished calls a sync at `at` fetches again: those started at most
    `max_follow_seconds` (checked; default 86400) before it. None on a backfill, whose
    window is fixed."""
    limit = check_max_follow(slug, max_follow_seconds)
    if backfill:
        return []
    since = at - timedelta(seconds=limit)
    return [call for call in unfinished or () if call.started_at >= since]


def span(calls: Iterable[Unfinished]) -> tuple[datetime, datetime] | None:
    """The oldest and newest start of the calls followed (None: no call), for an API with
    one partition per source."""
    starts = [call.started_at for call in calls]
    return (min(starts), max(starts)) if starts else None


def spans(calls: Iterable[Unfinished]) -> dict[str | None, tuple[datetime, datetime]]:
    """Per partition (`account_id`), the oldest and newest start of the calls followed:
    the window a partition is read back over when the API has no by-id endpoint."""
    found: dict[str | None, tuple[datetime, datetime]] = {}
    for call in calls:
        low, high = found.get(call.account_id, (call.started_at, call.started_at))
        found[call.account_id] = (min(low, call.started_at), max(high, call.started_at))
    return found


class Reread:
    """Which followed calls the sync's own walk loaded again, so that the resource that
    follows them fetches only the others (a call started inside the lookback is in the
    walk: on a sync every few minutes, most of them).

    The walk's resource passes its tables through `watch`; the followed resource, which
    dlt reads after it (a source's resources in their order, one item of each in turn),
    first runs `yield from wait()`: it yields None, which dlt takes as "nothing yet",
    while the walk is under way. A walk that did not start (the resource not selected) or
    did not finish makes every call count as not seen: nothing is skipped on a guess.
    With no call to follow, `watch` only passes the tables on.
    """

    def __init__(self, calls: Iterable[Unfinished]) -> None:
        self._wanted = pa.array(sorted({call.call_id for call in calls}), pa.string())
        self._seen: set[str] = set()
        self._state = "idle"  # "walking", then "walked" (every page read) or "broken"

    def watch(self, tables: Iterable[pa.Table], since: datetime | None,
              until: datetime | None = None) -> Iterator[pa.Table]:
        """`tables` (a walk's), noting the followed calls among the rows dlt's incremental
        keeps: `started_at` from `since` (its lag-applied start) to before `until`, or
        unknown."""
        self._state = "walking"
        walked = False
        try:
            for table in tables:
                self._note(table, since, until)
                yield table
            walked = True
        finally:
            self._state = "walked" if walked else "broken"

    def wait(self) -> Iterator[None]:
        """Nothing (None, for dlt) for as long as the walk is under way."""
        while self._state == "walking":
            yield None

    def unseen(self, calls: Iterable[Unfinished]) -> Generator[None, None, list[Unfinished]]:
        """After the walk (`yield from`: None to dlt meanwhile), the calls it did not load."""
        yield from self.wait()
        return [call for call in calls if not self.loaded(call.call_id)]

    def loaded(self, call_id: str) -> bool:
        """Whether the walk, finished, loaded the call (False where it did not finish)."""
        return self._state == "walked" and call_id in self._seen

    def _note(self, table: pa.Table, since: datetime | None, until: datetime | None) -> None:
        if not table.num_rows or not len(self._wanted):
            return
        keep = pc.is_in(table["call_id"], value_set=self._wanted)
        started = table["started_at"]
        if since is not None:
            keep = pc.and_kleene(keep, pc.greater_equal(started, pa.scalar(since, started.type)))
        if until is not None:
            keep = pc.and_kleene(keep, pc.less(started, pa.scalar(until, started.type)))
        # a row without `started_at` is kept too (`on_cursor_value_missing="include"`)
        self._seen.update(table.filter(pc.fill_null(keep, True))["call_id"].to_pylist())


def read_back(calls: list[Unfinished], reread: Reread | None,
              pages: Callable[[datetime, datetime], Iterable[pa.Table]]
              ) -> Iterator[pa.Table | None]:
    """A followed resource without a by-id endpoint: the tables of `pages(oldest, newest)`
    over the calls left to follow (with `reread`, after the walk, those it did not load
    again); nothing when none is left."""
    if reread is not None:
        calls = yield from reread.unseen(calls)
    window = span(calls)
    if window is not None:
        yield from batched(pages(*window))
