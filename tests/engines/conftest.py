"""Engine fixtures: a PostgreSQL server per test session, an empty database per test, and
one local Spark session per test process."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from pipelines.engines import spark
from tests.engines.postgres import Missing, PostgresServer, started


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """Debian's PostgreSQL, started with initdb + pg_ctl in a temp dir on 127.0.0.1 and
    stopped by its PID at the end. Missing binaries fail the test (never a skip)."""
    try:
        server = started()
    except Missing as exc:
        missing = str(exc)
    else:
        missing = ""
    if missing:  # outside the except: one line, no chained exception
        pytest.fail(missing, pytrace=False)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.home, ignore_errors=True)


@pytest.fixture
def postgres(postgres_server: PostgresServer) -> Iterator[str]:
    """The DSN of a fresh database on the session's server, dropped after the test."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    dsn = postgres_server.create_database(name)
    yield dsn
    postgres_server.drop_database(name)


@pytest.fixture(scope="session")
def spark_session() -> Iterator[Any]:
    """One local[2] Spark session for every Spark test of this process (its JVM starts in
    ~7 s); `pipelines.engines.spark.session` uses it instead of starting its own."""
    with spark.session("local[2]") as session:
        yield session
