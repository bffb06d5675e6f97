"""A throwaway PostgreSQL server for the tests: Debian's binaries, a temp dir, loopback only.

`initdb` + `pg_ctl` run as the `postgres` user when the tests run as root (PostgreSQL
refuses to run as root), else as the current user. The server listens on 127.0.0.1 on a
free port and on a Unix socket in its own temp dir, never the system's.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import psycopg2
from psycopg2 import sql

log = logging.getLogger(__name__)

ROOT = Path("/usr/lib/postgresql")
PACKAGE = "postgresql"
SUPERUSER = "callsync"
START_SECONDS = 60


class Missing(RuntimeError):
    """The server binaries are not installed (the message names the Debian package)."""


def bin_dir(root: Path = ROOT) -> Path:
    """The newest `/usr/lib/postgresql/<version>/bin` that holds `pg_ctl`.

    Raises:
        Missing: no version holds it.
    """
    found = [d / "bin" for d in root.glob("*") if (d / "bin" / "pg_ctl").is_file()]
    versions = sorted(found, key=lambda b: _version(b.parent.name))
    if not versions:
        raise Missing(f"PostgreSQL's pg_ctl not found under {root}/*/bin: install the Debian "
                      f"package {PACKAGE!r} (apt-get install {PACKAGE}; `make test` does it "
                      "as root)")
    return versions[-1]


def _version(name: str) -> tuple[int, ...]:
    return tuple(int(p) for p in name.split(".") if p.isdigit())


def free_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PostgresServer:
    """One running server: where it listens, its superuser, and the postmaster's PID."""

    bin: Path
    home: Path
    port: int
    password: str
    pid: int = 0

    @property
    def data(self) -> Path:
        return self.home / "data"

    def dsn(self, database: str = "postgres") -> str:
        """A libpq URL for `database` as the superuser, over TCP on 127.0.0.1."""
        return (f"postgresql://{SUPERUSER}:{self.password}@127.0.0.1:{self.port}/{database}")

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, timeout=START_SECONDS,
                              check=False)

    def _check(self, done: subprocess.CompletedProcess[str], what: str) -> None:
        if done.returncode != 0:
            raise RuntimeError(f"{what} failed ({done.returncode}): "
                               f"{(done.stderr or done.stdout).strip()[-2000:]}")

    def start(self) -> None:
        """`initdb`, `pg_ctl start`, then `pg_isready` on 127.0.0.1:<port>."""
        pwfile = self.home / "pwfile"
        pwfile.write_text(self.password + "\n")
        pwfile.chmod(0o600)
        if os.geteuid() == 0:
            shutil.chown(self.home, "postgres")
            shutil.chown(pwfile, "postgres")
        self._check(self._run("initdb", "-D", str(self.data), "-U", SUPERUSER,
                              f"--pwfile={pwfile}", "--auth=scram-sha-256", "-E", "UTF8",
                              "--locale=C.UTF-8", "--no-sync"), "initdb")
        pwfile.unlink()
        options = (f"-c listen_addresses=127.0.0.1 -c port={self.port} "
                   f"-c unix_socket_directories={self.home} -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off")
        # -w: pg_ctl returns once the postmaster reports ready (it probes; no sleep here)
        logfile = self.home / "server.log"
        done = self._run("pg_ctl", "start", "-w", "-t", str(START_SECONDS), "-D",
                         str(self.data), "-l", str(logfile), "-o", options)
        if done.returncode != 0 and logfile.is_file():
            done.stderr += "\n" + logfile.read_text()[-2000:]
        self._check(done, "pg_ctl start")
        self.pid = int((self.data / "postmaster.pid").read_text().split()[0])
        self._check(self._run("pg_isready", "-h", "127.0.0.1", "-p", str(self.port),
                              "-t", str(START_SECONDS)), "pg_isready")
        log.info("PostgreSQL started: pid %s on 127.0.0.1:%s", self.pid, self.port)

    def stop(self) -> None:
        """`pg_ctl stop -m fast`, then make sure the postmaster's PID is gone.

        Raises:
            RuntimeError: the postmaster still runs after the stop (it is killed first).
        """
        pidfile = self.data / "postmaster.pid"
        if not self.pid and pidfile.is_file():  # a start that failed after the fork
            self.pid = int(pidfile.read_text().split()[0])
        if not self.pid:
            return
        done = self._run("pg_ctl", "stop", "-m", "fast", "-w", "-t", str(START_SECONDS),
                         "-D", str(self.data))
        if alive(self.pid):
            os.kill(self.pid, 9)
            raise RuntimeError(f"PostgreSQL (pid {self.pid}) outlived pg_ctl stop: "
                               f"{(done.stderr or done.stdout).strip()}")
        log.info("PostgreSQL stopped: pid %s", self.pid)
        self.pid = 0

    def create_database(self, name: str) -> str:
        """Create an empty database `name`; its DSN."""
        with _autocommit(self.dsn()) as con, con.cursor() as cur:
            cur.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
        return self.dsn(name)

    def drop_database(self, name: str) -> None:
        """Drop database `name`, closing any connection still on it."""
        with _autocommit(self.dsn()) as con, con.cursor() as cur:
            cur.execute(sql.SQL("drop database if exists {} with (force)")
                        .format(sql.Identifier(name)))


class _autocommit:  # noqa: N801 (used like a function)
    """A psycopg2 connection in autocommit (create/drop database refuse a transaction),
    closed on exit (psycopg2's own `with` only ends the transaction)."""

    def __init__(self, dsn: str) -> None:
        self.con = psycopg2.connect(dsn)
        self.con.autocommit = True

    def __enter__(self) -> psycopg2.extensions.connection:
        return self.con

    def __exit__(self, *exc: object) -> None:
        self.con.close()


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie left for a non-reaping PID 1 counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in state


def started() -> PostgresServer:
    """A started server in a fresh temp dir (in /tmp: the `postgres` user must reach it).

    Raises:
        Missing: the binaries are not installed.
    """
    server = PostgresServer(bin=bin_dir(ROOT), home=Path(tempfile.mkdtemp(prefix="callsync-pg-")),
                            port=free_port(), password=secrets.token_urlsafe(16))
    try:
        server.start()
    except BaseException:
        server.stop()
        shutil.rmtree(server.home, ignore_errors=True)
        raise
    return server
