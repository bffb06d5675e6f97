"""The progress lines of a long sync."""

from __future__ import annotations

import logging
import threading

import pytest

from pipelines.progress import Progress
from sources._http import Meter


def test_line_says_records_and_pages_per_provider() -> None:
    bland, unpod = Meter(), Meter()
    bland.count(pages=120, records=120_000)
    unpod.count(pages=3, records=250)
    line = Progress({"bland": bland, "unpod": unpod}).line()
    assert line == ("read so far: bland 120,000 records (120 pages), "
                    "unpod 250 records (3 pages)")


def test_logs_while_open_and_stops_on_exit(caplog: pytest.LogCaptureFixture) -> None:
    meter = Meter()
    logged = threading.Event()

    class Spy(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            logged.set()

    spy = Spy()
    logging.getLogger("callsync.sync").addHandler(spy)
    try:
        with caplog.at_level(logging.INFO, logger="callsync.sync"), \
                Progress({"bland": meter}, interval=0.001) as progress:
            assert logged.wait(timeout=30)  # an event, not a sleep: the first line came
        assert not progress._thread.is_alive()
        assert "read so far: bland 0 records (0 pages)" in caplog.text
    finally:
        logging.getLogger("callsync.sync").removeHandler(spy)


def test_nothing_to_read_starts_no_thread() -> None:
    with Progress({}) as progress:
        pass
    assert not progress._thread.is_alive()
    assert progress._thread.ident is None
