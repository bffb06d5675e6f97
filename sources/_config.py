"""Checks of configuration shared by every source, each failing with the key to fix."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from sources._http import ConfigError, RetryPolicy
from sources._time import parse_bound

DEFAULT_LOOKBACK_SECONDS = 3600
DEFAULT_START_DAYS = 30


def where(slug: str, key: str) -> str:
    """`sources.<slug>.<key> (env SOURCES__<SLUG>__<KEY>)`: how a message names a key."""
    return f"sources.{slug}.{key} (env SOURCES__{slug.upper()}__{key.upper()})"


def check_base_url(slug: str, base_url: object, key: str = "base_url") -> str:
    parts = urlsplit(str(base_url or ""))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(slug, f"{where(slug, key)}: {base_url!r} is not an "
                          "http(s) URL with a host")
    return str(base_url)


def check_start_date(slug: str, start_date: object) -> datetime:
    """The configured `start_date` as aware UTC; default 30 days ago, at midnight."""
    if start_date is None or start_date == "":
        today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        return today - timedelta(days=DEFAULT_START_DAYS)
    try:
        parsed = parse_bound(start_date)
    except ValueError:
        parsed = None
    if parsed is None:
        raise ConfigError(slug, f"{where(slug, 'start_date')}: {start_date!r} is not an ISO "
                          "date or datetime (e.g. 2026-01-31 or 2026-01-31T08:00:00Z)")
    return parsed


def check_lookback(slug: str, lookback: object) -> int:
    return check_seconds(slug, "lookback", lookback, DEFAULT_LOOKBACK_SECONDS)


def check_seconds(slug: str, key: str, value: object, default: int) -> int:
    """A duration key as whole seconds >= 0 (`default` when unset), or a `ConfigError`."""
    if value is None or value == "":
        return default
    try:
        seconds = int(str(value))
    except ValueError:
        seconds = -1
    if seconds < 0:
        raise ConfigError(slug, f"{where(slug, key)}: {value!r} is not a whole "
                          "number of seconds >= 0")
    return seconds


def check_secret(slug: str, key: str, value: object) -> str:
    """The configured secret, stripped; a `ConfigError` naming the key when it is unset or
    still a placeholder (the value itself is never repeated)."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(slug, f"set {where(slug, key)} in .dlt/secrets.toml or the "
                          "environment")
    if is_placeholder(value):
        raise ConfigError(slug, f"{where(slug, key)} still holds a placeholder (`...` or "
                          "`your-...` from secrets.toml.example): set the real value, or "
                          f"delete the key to skip {slug}")
    return value.strip()


def is_placeholder(value: str) -> bool:
    """`...`, `<...>` or `your-...`: a value copied from an example, not a credential."""
    text = value.strip().lower()
    return text.strip(".…") == "" or text.startswith(("your-", "your_")) or (
        text.startswith("<") and text.endswith(">"))


def check_page_size(slug: str, page_size: object, largest: int, smallest: int = 1) -> int:
    """`page_size` as a whole number in `smallest..largest` (the API's limits), or a
    `ConfigError` naming the key."""
    try:
        size = int(str(page_size))
    except ValueError:
        size = 0
    if not smallest <= size <= largest:
        raise ConfigError(slug, f"{where(slug, 'page_size')}: {page_size!r} is not a whole "
                          f"number from {smallest} to {largest}")
    return size


def check_http(slug: str, requests_per_second: object = None, max_attempts: object = None,
               timeout_seconds: object = None, max_response_bytes: object = None
               ) -> RetryPolicy:
    """A source's HTTP policy: the keys given over `RetryPolicy`'s defaults, each a number
    >= 0 (`max_attempts` >= 1), or a `ConfigError` naming the key."""
    policy = RetryPolicy()
    for key, value, attr, kind in (
        ("requests_per_second", requests_per_second, "requests_per_second", float),
        ("max_attempts", max_attempts, "attempts", int),
        ("timeout_seconds", timeout_seconds, "timeout_seconds", float),
        ("max_response_bytes", max_response_bytes, "max_bytes", int),
    ):
        if value is None or value == "":
            continue
        try:
            number = kind(str(value))
        except (TypeError, ValueError):
            number = -1
        if number < 0 or (attr == "attempts" and number < 1):
            raise ConfigError(slug, f"{where(slug, key)}: {value!r} is not a valid number")
        setattr(policy, attr, number)
    return policy
