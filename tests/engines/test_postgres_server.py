"""The PostgreSQL harness itself: where the server listens, and what a missing install says."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg2
import pytest

from tests.conftest import PROJECT
from tests.engines.postgres import Missing, PostgresServer, alive, bin_dir, started


def test_server_listens_on_loopback_only_and_each_test_has_its_own_database(
    postgres_server: PostgresServer, postgres: str
) -> None:
    assert alive(postgres_server.pid)
    with psycopg2.connect(postgres) as con, con.cursor() as cur:
        cur.execute("show listen_addresses")
        assert cur.fetchone() == ("127.0.0.1",)
        cur.execute("show unix_socket_directories")
        assert cur.fetchone() == (str(postgres_server.home),)
        cur.execute("select current_database(), inet_server_addr()::text")
        database, address = cur.fetchone()
        assert database.startswith("test_") and address == "127.0.0.1/32"
    con.close()
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        psycopg2.connect(postgres.replace(postgres_server.password, "wrong"))


def test_missing_binaries_name_the_debian_package(tmp_path: Path) -> None:
    (tmp_path / "15" / "bin").mkdir(parents=True)  # a version dir without pg_ctl
    with pytest.raises(Missing, match="install the Debian package 'postgresql'"):
        bin_dir(tmp_path)


def test_the_newest_version_is_used(tmp_path: Path) -> None:
    for version in ("9.6", "15", "13"):
        (tmp_path / version / "bin").mkdir(parents=True)
        (tmp_path / version / "bin" / "pg_ctl").touch()
    assert bin_dir(tmp_path) == tmp_path / "15" / "bin"


def test_stop_ends_the_postmaster_by_its_pid() -> None:
    server = started()
    try:
        pid = server.pid
        assert alive(pid) and pid == int((server.data / "postmaster.pid").read_text().split()[0])
        server.stop()
        assert not alive(pid) and server.pid == 0
        assert not (server.data / "postmaster.pid").exists()
    finally:
        server.stop()
        shutil.rmtree(server.home, ignore_errors=True)


def test_a_missing_install_fails_the_tests_that_need_it_and_never_skips(tmp_path: Path) -> None:
    (tmp_path / "test_needs_postgres.py").write_text(
        "from pathlib import Path\n"
        "from tests.engines import postgres\n"
        "from tests.engines.conftest import postgres_server  # noqa: F401\n"
        f"postgres.ROOT = Path({str(tmp_path / 'none')!r})\n"
        "def test_it(postgres_server):\n"
        "    pass\n")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir",
         str(tmp_path), str(tmp_path / "test_needs_postgres.py")],
        capture_output=True, text=True, cwd=tmp_path, timeout=120, check=False,
        env={**os.environ, "PYTHONPATH": str(PROJECT)})
    assert done.returncode == 1, done.stdout
    assert "install the Debian package 'postgresql'" in done.stdout
    assert "1 error" in done.stdout and "skipped" not in done.stdout
    assert "another exception" not in done.stdout  # one line, not a chain
