"""Progress of a sync's reading: a log line every few seconds while providers are read."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from types import TracebackType

from sources._http import Meter

log = logging.getLogger("callsync.sync")

INTERVAL_SECONDS = 10.0


class Progress:
    """While open, logs every `interval` seconds how many records each provider has read.

    A long backfill (millions of calls) otherwise says nothing until its summary.
    """

    def __init__(self, meters: Mapping[str, Meter], interval: float = INTERVAL_SECONDS) -> None:
        self.meters = meters
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="progress", daemon=True)

    def line(self) -> str:
        """`read so far: bland 120,000 records (120 pages), ...`."""
        parts = [f"{slug} {m.records:,} records ({m.pages:,} pages)"
                 for slug, m in self.meters.items()]
        return "read so far: " + ", ".join(parts)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            log.info("%s", self.line())

    def __enter__(self) -> Progress:
        if self.meters and self.interval > 0:
            self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
