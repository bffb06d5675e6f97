"""The progress of a long sync: a bar on a terminal, timestamped lines elsewhere."""

from __future__ import annotations

import io
import logging
import os
import pty
import threading
from datetime import UTC, datetime

import pytest

from pipelines.progress import Progress
from simulator.server import Simulator
from sources._http import Meter
from sources.jambonz.client import JambonzClient
from sources.jambonz.client import connect as jambonz_connect
from sources.unpod.client import UnpodClient
from sources.unpod.client import connect as unpod_connect
from tests.conftest import NOW


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_line_has_the_time_the_rate_and_an_estimate_where_a_total_is_known() -> None:
    bland, unpod = Meter(), Meter()
    seconds = [100.0]
    progress = Progress({"bland": bland, "unpod": unpod}, clock=lambda: seconds[0],
                        now=lambda: datetime(2026, 11, 1, 12, 0, 10, tzinfo=UTC))
    bland.count(pages=120, records=120_000)
    unpod.count(pages=3, records=250)
    unpod.expect(1_000)
    seconds[0] = 110.0
    assert progress.line() == (
        "2026-11-01T12:00:10Z read so far: bland 120,000 records (120 pages, 12,000/s), "
        "unpod 250 of 1,000 records (3 pages, 25/s, ~30 s left)")


def test_lines_are_logged_while_open_and_stop_on_exit(caplog: pytest.LogCaptureFixture) -> None:
    meter = Meter()
    logged = threading.Event()

    class Spy(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            logged.set()

    spy = Spy()
    logging.getLogger("callsync.sync").addHandler(spy)
    try:
        with caplog.at_level(logging.INFO, logger="callsync.sync"), \
                Progress({"bland": meter}, interval=0.001, stream=io.StringIO()) as progress:
            assert logged.wait(timeout=30)  # an event, not a sleep: the first line came
        assert not progress._thread.is_alive()
        assert "read so far: bland 0 records (0 pages, 0/s)" in caplog.text
    finally:
        logging.getLogger("callsync.sync").removeHandler(spy)


def test_a_terminal_gets_a_bar_per_provider_and_no_lines(
    caplog: pytest.LogCaptureFixture,
) -> None:
    jambonz, bland = Meter(), Meter()
    screen = Terminal()
    with caplog.at_level(logging.INFO, logger="callsync.sync"), \
            Progress({"jambonz": jambonz, "bland": bland}, interval=0.001, stream=screen):
        jambonz.expect(400)
        jambonz.count(pages=1, records=100)
        bland.count(pages=1, records=7)
    bars = screen.getvalue()
    assert "jambonz" in bars and "100/400" in bars and "25%|" in bars
    assert "bland" in bars and "7 records" in bars
    assert "read so far" not in caplog.text


def test_a_real_terminal_shows_the_bars_even_when_it_reports_no_size() -> None:
    main, side = pty.openpty()  # a new pty says 0 x 0, as under `script` or some CI
    meter = Meter()
    with (os.fdopen(side, "w", encoding="utf-8") as screen,
          Progress({"unpod": meter}, stream=screen)):
        meter.expect(1_000)
        meter.count(pages=1, records=100)
    chunks = []  # all of it, to the end: one read may return the first write only
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # EIO: the terminal's other side is closed and everything read
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(main)
    shown = b"".join(chunks).decode("utf-8", "replace")
    assert "unpod" in shown and "100/1000" in shown, repr(shown)


def test_nothing_to_read_starts_no_thread() -> None:
    with Progress({}) as progress:
        pass
    assert not progress._thread.is_alive()
    assert progress._thread.ident is None


def test_the_apis_totals_reach_the_meter(sim: Simulator) -> None:
    since = datetime(2026, 10, 20, tzinfo=UTC)
    unpod = sim.providers["unpod"].config(sim.url)
    meter = Meter()
    client = UnpodClient(unpod_connect(unpod["api_token"], unpod["org_handle"],
                                       unpod["base_url"], meter=meter), unpod["org_handle"])
    read = sum(len(page) for page in client.call_log_pages(since))
    assert meter.expected == read == meter.records > 100

    jambonz = sim.providers["jambonz"].config(sim.url)
    meter = Meter()
    client = JambonzClient(jambonz_connect(jambonz["api_key"], jambonz["base_url"], meter=meter),
                           jambonz["account_sid"], page_size=50)
    read = sum(len(page) for page in client.recent_call_pages(since, NOW))
    client.live_calls()  # not call records of the window: not counted against the total
    assert meter.expected == read == meter.records > 100
