"""The backfill window of `callsync sync --start/--end`, checked before any request."""

from __future__ import annotations

from datetime import UTC, datetime

from pipelines.errors import UsageError


def check_window(
    start: datetime | None, end: datetime | None, now: datetime | None = None,
) -> tuple[datetime | None, datetime | None]:
    """The window `[start, end)` to backfill, or a `UsageError` saying what to fix.

    `--end` needs `--start`; the end must be after the start; a start in the future is
    refused (there is nothing there to read); an end in the future means now (`None`:
    up to the present, as without `--end`).
    """
    if start is None and end is None:
        return None, None
    now = now or datetime.now(UTC)
    if start is None:
        raise UsageError("--end needs --start: give the first day of the window too "
                         "(e.g. --start 2026-10-01 --end 2026-10-08)")
    if end is not None and end <= start:
        raise UsageError(f"--end {_iso(end)} is not after --start {_iso(start)}: the window "
                         "is [start, end), so give an end later than the start")
    if start > now:
        raise UsageError(f"--start {_iso(start)} is in the future (now {_iso(now)}): "
                         "nothing has happened there yet")
    if end is not None and end > now:
        end = None
    return start, end


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
