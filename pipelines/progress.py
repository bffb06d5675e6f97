"""Progress of a sync's reading, while providers are read.

On a terminal (stderr a TTY): one tqdm bar per provider, with its rate and, where the API
said how many records the window holds (jambonz `total`, Unpod `count`), how much is
left. Elsewhere (cron, a log file, a pipe): a plain line every `interval` seconds, with
the time, the records read, the rate and the estimate.
"""

from __future__ import annotations

import logging
import shutil
import sys
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import IO, Any

from sources._http import Meter

log = logging.getLogger("callsync.sync")

INTERVAL_SECONDS = 10.0
BAR_REFRESH_SECONDS = 0.5


class Progress:
    """While open, shows how many records each provider has read (a long backfill of
    millions of calls otherwise says nothing until its summary).

    Args:
        meters: Each provider's meter, by slug.
        interval: Seconds between plain lines (0: none).
        stream: Where a bar goes; a bar only when it is a terminal (default stderr).
        clock: Seconds, monotonic (tests pass their own).
        now: The wall-clock time of a line (tests pass their own).
    """

    def __init__(
        self, meters: Mapping[str, Meter], interval: float = INTERVAL_SECONDS,
        stream: IO[str] | None = None, clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.meters = meters
        self.interval = interval
        self.stream = stream if stream is not None else sys.stderr
        self._clock = clock
        self._now = now
        self._began = clock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="progress", daemon=True)
        self._bars: dict[str, Any] = {}

    @property
    def on_terminal(self) -> bool:
        isatty = getattr(self.stream, "isatty", None)
        return bool(isatty and isatty())

    def line(self) -> str:
        """`2026-11-01T12:00:10Z read so far: bland 120,000 records (120 pages, 12,000/s),
        unpod 250 of 1,000 records (3 pages, 25/s, ~30 s left)`."""
        elapsed = max(self._clock() - self._began, 1e-9)
        parts = []
        for slug, m in self.meters.items():
            rate = m.records / elapsed
            of = f" of {m.expected:,}" if m.expected is not None else ""
            part = f"{slug} {m.records:,}{of} records ({m.pages:,} pages, {rate:,.0f}/s"
            if m.expected is not None and m.expected > m.records and rate > 0:
                part += f", ~{_duration((m.expected - m.records) / rate)} left"
            parts.append(part + ")")
        stamp = self._now().astimezone(UTC).isoformat(timespec="seconds")
        return f"{stamp.replace('+00:00', 'Z')} read so far: " + ", ".join(parts)

    def _run(self) -> None:
        if self._bars:
            while not self._stop.wait(BAR_REFRESH_SECONDS):
                self._refresh()
            return
        while not self._stop.wait(self.interval):
            log.info("%s", self.line())

    def _refresh(self) -> None:
        for slug, bar in self._bars.items():
            meter = self.meters[slug]
            if meter.expected is not None and bar.total != meter.expected:
                bar.total = meter.expected
            bar.update(meter.records - bar.n)  # update (not n=): keeps tqdm's rate right

    def __enter__(self) -> Progress:
        if not self.meters:
            return self
        self._began = self._clock()
        if self.on_terminal:
            from tqdm import tqdm

            # a terminal that reports no size (0 x 0: some ptys) would get empty bars
            size = shutil.get_terminal_size((100, 24))
            self._bars = {
                slug: tqdm(desc=f"{slug:<8}", unit=" records",
                           file=self.stream, position=i, leave=True,
                           ncols=size.columns, nrows=size.lines,
                           mininterval=BAR_REFRESH_SECONDS)
                for i, slug in enumerate(self.meters)}
            self._thread.start()
        elif self.interval > 0:
            self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        if self._bars:
            self._refresh()
            for bar in self._bars.values():
                bar.close()


def _duration(seconds: float) -> str:
    """`45 s`, `12 min`, `3.5 h`."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
