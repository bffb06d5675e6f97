"""A real browser for the dashboard: Debian's headless Chromium, its network cut.

Every request Chromium would make off the machine goes to `Proxy`, a recording HTTP proxy
on loopback that answers 403: a page that fetches nothing leaves it empty.
"""

from __future__ import annotations

import os
import shutil
import signal
import socketserver
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

BROWSERS = ("chromium-headless-shell", "chromium")
PACKAGE = "chromium-headless-shell"


def chromium() -> str:
    """The browser's path; the test fails (never skips) naming the package when it is missing."""
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    pytest.fail(f"no headless Chromium on the PATH: install Debian's `{PACKAGE}` "
                "(`make test` as root does: scripts/system-packages.sh)")


class _Recorder(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        line = self.rfile.readline(4096).decode("latin-1").strip()
        self.server.requests.append(line)  # type: ignore[attr-defined]
        self.wfile.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n"
                         b"Connection: close\r\n\r\n")


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Recorder)
        self.requests: list[str] = []


@contextmanager
def proxy() -> Iterator[_Server]:
    """A recording proxy on a free loopback port: `.requests` lists each request line."""
    server = _Server()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def run(url: str, profile: Path, proxy_port: int, *args: str, timeout: float = 90) -> str:
    """Chromium on `url` with a fresh profile, every request sent to the recording proxy;
    its stdout. The process group is killed by its id if it outlives the run."""
    command = [
        chromium(), "--headless", "--no-sandbox", "--disable-gpu",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run", "--disable-default-apps", "--mute-audio",
        f"--user-data-dir={profile}", f"--proxy-server=127.0.0.1:{proxy_port}",
        "--proxy-bypass-list=<-loopback>", "--window-size=1280,2400",
        "--virtual-time-budget=15000", *args, url,
    ]
    browser = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, start_new_session=True)
    try:
        out, err = browser.communicate(timeout=timeout)
    finally:
        if browser.poll() is None:
            os.killpg(browser.pid, signal.SIGKILL)
            browser.wait()
    assert browser.returncode == 0, err[-2000:]
    return out
