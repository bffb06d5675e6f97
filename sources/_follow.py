"""Unfinished calls, followed to the end: which ones a sync fetches again, and how far back.

A call whose `calls` row was unfinished at its last load (the view `calls_unfinished`) is
fetched again on every later sync until it is final or started more than
`max_follow_seconds` ago: by id where the API has a by-id endpoint (SIPSIM), else by
reading its partition back to the oldest such call (a second walk in a resource of its
own, without an incremental: the cursor never moves because of it). The pipeline reads
the list from the warehouse and passes it as the source function's `unfinished`
argument, so every source stays a plain dlt source.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sources._config import check_seconds

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
