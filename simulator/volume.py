"""What every simulator's lazy ("volume") mode shares: a timeline, ids and fast timestamps.

In lazy mode a provider holds no calls. Record `i` of a partition (0 = oldest) is built on
demand from a template (one of `TEMPLATES` calls made once by the provider's eager
generator, cycled by index) plus what must differ per index: its id (which encodes `i`)
and its times (`Timeline.at(i)`, strictly increasing in `i`). So a time filter is a
`bisect` over `TimeView` and a cursor is an index: serving a page costs O(page) records
(O(log N) to find it) and memory does not grow with the number of calls. A fake hands
these to `simulator.store.LazyStore`, the same interface its held calls have
(`ListStore`), so its handlers serve either mode with one code path.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

TEMPLATES = 1023  # templates per partition (a multiple of 3: Unpod's variants cycle by 3)
SECOND = 1_000_000
EXTEND_STEP = SECOND  # calls added by `extend` come one second apart
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ORDINAL = date(1970, 1, 1).toordinal()
_MIX = 0x9E3779B97F4A7C15
_MULTIPLIERS = {bits: _MIX >> (64 - bits) | 1 for bits in range(1, 65)}


def micros(moment: datetime) -> int:
    """An aware datetime as integer microseconds since the epoch."""
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * SECOND + delta.microseconds


def moment(us: int) -> datetime:
    """Epoch microseconds as an aware UTC datetime."""
    return EPOCH + timedelta(microseconds=us)


def mix(i: int, salt: int, bits: int) -> int:
    """A random-looking `bits`-bit number, distinct for every `i` below 2**bits."""
    mask = (1 << bits) - 1
    x = (i * _MULTIPLIERS[bits] + salt) & mask  # odd multiplier: a bijection mod 2**bits
    return x ^ (x >> (bits // 2))  # xorshift: still a bijection, scrambles the low bits


def salt(seed: int, partition: int, purpose: str) -> int:
    """A 64-bit salt per seed, partition and purpose (stable across runs)."""
    return random.Random(f"{seed}:{partition}:{purpose}").getrandbits(64)


@dataclass(frozen=True)
class Style:
    """How a timestamp is written: zone offset (seconds), fraction digits, zone suffix.

    `write(us)` writes epoch microseconds in the style (what `datetime.isoformat` would
    print); it is built once per style, as the lazy records' hottest code.
    """

    offset: int = 0
    digits: int = 0
    suffix: str = "Z"
    write: Callable[[int], str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "write", _writer(self.offset, self.digits, self.suffix))

    @staticmethod
    def of(text: str) -> tuple[Style, datetime]:
        """The style an ISO 8601 text is written in, and the moment it names."""
        parsed = datetime.fromisoformat(text)
        clock = text.partition("T")[2]
        fraction = clock.partition(".")[2]
        digits = len(fraction.rstrip("Z").split("+")[0].split("-")[0]) if fraction else 0
        suffix = "Z" if text.endswith("Z") else text[-6:]
        offset = parsed.utcoffset() or timedelta(0)
        return Style(int(offset.total_seconds()), digits, suffix), parsed


_ORIGIN = 946_684_800  # 2000-01-01 in epoch seconds: hours and seconds after it are small ints
_TWO = [f"{n:02d}" for n in range(60)]
_THREE = [f"{n:03d}" for n in range(1000)]


@lru_cache(maxsize=1 << 14)
def _hour(hours: int) -> str:
    """`YYYY-MM-DDTHH:` of an hour since `_ORIGIN` (a page hits a few of them)."""
    days, hour = divmod(hours, 24)
    return f"{date.fromordinal(_ORDINAL + _ORIGIN // 86_400 + days).isoformat()}T{hour:02d}:"


def _writer(offset: int, digits: int, suffix: str) -> Callable[[int], str]:
    # the hottest code of lazy mode: small-int arithmetic and table lookups, no format
    # specs (parsed on every use)
    shift, hour, two, three = offset * SECOND, _hour, _TWO, _THREE

    def seconds(us: int) -> str:
        at, rest = divmod((us + shift) // SECOND - _ORIGIN, 3600)
        return f"{hour(at)}{two[rest // 60]}:{two[rest % 60]}{suffix}"

    def millis(us: int) -> str:
        whole, fraction = divmod(us + shift, SECOND)
        at, rest = divmod(whole - _ORIGIN, 3600)
        return f"{hour(at)}{two[rest // 60]}:{two[rest % 60]}.{three[fraction // 1000]}{suffix}"

    def micros(us: int) -> str:
        whole, fraction = divmod(us + shift, SECOND)
        at, rest = divmod(whole - _ORIGIN, 3600)
        return (f"{hour(at)}{two[rest // 60]}:{two[rest % 60]}."
                f"{three[fraction // 1000]}{three[fraction % 1000]}{suffix}")

    return {0: seconds, 3: millis, 6: micros}[digits]


def stamp(us: int, style: Style) -> str:
    """Epoch microseconds written in `style` (what `datetime.isoformat` would print)."""
    return style.write(us)


class Timeline:
    """When record `i` of every partition happened: strictly increasing in `i`.

    The first `size` records spread over `span` before `now`, one step apart plus a
    seeded jitter that keeps neighbours at least a second apart whenever the step allows
    (so per-second ties happen only past ~600k calls per partition and week); records
    added later by `extend` come `EXTEND_STEP` apart after the initial `now`.
    """

    def __init__(self, now: datetime, span: timedelta, size: int, seed: int) -> None:
        self.size = size
        self.end = micros(now)
        self.step = max(1, int(span.total_seconds() * SECOND) // max(size, 1))
        self.base = self.end - size * self.step
        self.jitter = self.step - SECOND if self.step > SECOND else 0
        self.salt = salt(seed, -1, "timeline") >> 32

    def at(self, i: int) -> int:
        """Epoch microseconds of record `i`."""
        if i >= self.size:
            return self.end + (i - self.size + 1) * EXTEND_STEP
        if not self.jitter:
            return self.base + i * self.step
        return self.base + i * self.step + (i * 2654435761 + self.salt) % self.jitter


class TimeView:
    """`served(i)` for i < `length`, as a sequence `bisect` can search (non-decreasing)."""

    def __init__(self, served: Callable[[int], int], length: int) -> None:
        self.served = served
        self.length = length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int) -> int:
        return self.served(i)


class EagerOnly(NotImplementedError):
    """A mutation the lazy mode does not support (only `extend` grows a lazy partition)."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} needs the eager simulator (lazy mode only supports extend)")
