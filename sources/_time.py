"""Timestamp rules of the warehouse contract in Python, for the bounds a user gives
(`start_date`, `--start`, `--end`); page cursors are read in native code by the staging
macro (`sources/_native.py`).

The staging SQL applies the same rules to the other timestamp fields (`parse_ts` macro);
`tests/transforms/test_macros.py` runs both over one table of cases.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MS_THRESHOLD = 10**11  # a number >= 10^11 is epoch milliseconds
_FRACTION = re.compile(r"(\.\d{6})\d+")
_NUMERIC = re.compile(r"^-?\d+(\.\d+)?$")


def parse_timestamp(value: object) -> datetime | None:
    """Read an API timestamp as an aware UTC datetime, or None where it means no time.

    Accepts ISO 8601 / RFC 3339 (`Z` or an offset, fractions to nanoseconds, `T` or a
    space), epoch seconds or milliseconds as numbers or numeric strings. A value without
    zone is UTC. The epoch itself, all-zero dates and anything unreadable are None.
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return _from_epoch(float(value))
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or text.startswith("0000-00-00"):
        return None
    if _NUMERIC.match(text):
        return _from_epoch(float(text))
    text = _FRACTION.sub(r"\1", text)  # Python keeps microseconds; nanoseconds are cut
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    parsed = parsed.astimezone(UTC)
    return None if parsed == EPOCH else parsed


def _from_epoch(number: float) -> datetime | None:
    if number >= MS_THRESHOLD:
        number /= 1000
    if number == 0:
        return None
    try:
        return EPOCH + timedelta(seconds=number)
    except OverflowError:
        return None


def parse_bound(value: object) -> datetime | None:
    """A `start_date`, `--start` or `--end`: ISO date or datetime, UTC unless zoned.

    Raises:
        ValueError: the value is given but is no readable date or datetime.
    """
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    parsed = parse_timestamp(str(value)) if isinstance(value, str) else None
    if parsed is None:
        raise ValueError(f"not an ISO date or datetime: {value!r}")
    return parsed


def iso_z(moment: datetime, timespec: str = "auto", round_up: bool = False) -> str:
    """`moment` as ISO 8601 UTC with `Z`, as the APIs' filters take it (naive is UTC).

    Args:
        moment: The instant.
        timespec: As `datetime.isoformat`; `auto` shows microseconds only where present.
        round_up: With `milliseconds`, round a sub-millisecond remainder up rather than
            down (an end bound then excludes nothing the exact value includes).
    """
    utc = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    extra = utc.microsecond % 1000
    if round_up and timespec == "milliseconds" and extra:
        utc += timedelta(microseconds=1000 - extra)
    return utc.replace(tzinfo=None).isoformat(timespec=timespec) + "Z"
