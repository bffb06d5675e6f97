"""A Spark standalone cluster for tests: one master and one worker on 127.0.0.1, started
with pyspark's own `bin/spark-class` (the jars pyspark ships, Java from Debian) and
stopped by their PIDs."""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pyspark

from tests.engines.postgres import free_port

SPARK_CLASS = Path(pyspark.__file__).parent / "bin" / "spark-class"
READY_SECONDS = 180  # a JVM on a loaded 2-core machine


@dataclass
class Daemon:
    """A Spark daemon process and the log lines it printed (read by a thread, so its pipe
    never fills)."""

    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    ready: threading.Event = field(default_factory=threading.Event)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start(role: str, args: list[str], marker: str, home: Path) -> Daemon:
    """Start `org.apache.spark.deploy.<role>` and wait for the log line `marker`."""
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_LOG_DIR": str(home),
           "SPARK_WORKER_DIR": str(home / "work")}
    process = subprocess.Popen(
        [str(SPARK_CLASS), f"org.apache.spark.deploy.{role}", *args], env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=home)
    daemon = Daemon(process)

    def drain() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            daemon.lines.append(line)
            if marker in line:
                daemon.ready.set()
        daemon.ready.set()  # the process ended: stop waiting

    threading.Thread(target=drain, daemon=True).start()
    if not daemon.ready.wait(READY_SECONDS) or process.poll() is not None:
        daemon.stop()
        raise RuntimeError(f"spark {role} did not start:\n" + "".join(daemon.lines[-20:]))
    return daemon


@contextmanager
def cluster(home: Path) -> Iterator[str]:
    """A master and a worker (2 cores, 1 GiB) on loopback; yields the master's URL."""
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    master = start("master.Master", ["--host", "127.0.0.1", "--port", str(port),
                                     "--webui-port", str(free_port())],
                   "I have been elected leader", home)
    url = f"spark://127.0.0.1:{port}"
    try:
        worker = start("worker.Worker", [url, "--host", "127.0.0.1", "--port", str(free_port()),
                                         "--webui-port", str(free_port()), "--cores", "2",
                                         "--memory", "1g", "--work-dir", str(home / "work")],
                       "Successfully registered with master", home)
        try:
            yield url
        finally:
            worker.stop()
    finally:
        master.stop()
