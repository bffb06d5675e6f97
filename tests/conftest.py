"""Shared fixtures: a started simulator, an isolated environment, a fresh warehouse."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from simulator import build
from simulator.server import Simulator

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
PROJECT = Path(__file__).resolve().parent.parent


@pytest.fixture
def sim() -> Iterator[Simulator]:
    """Every provider's simulator, seeded, on a free loopback port."""
    with build(seed=7, size=200, now=NOW) as simulator:
        yield simulator


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No configuration leaks in from the developer's shell or `.dlt/secrets.toml`."""
    for name in list(os.environ):
        if name.startswith(("SOURCES__", "DESTINATION__", "CALLSYNC_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")
    return tmp_path


@pytest.fixture
def warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "wh" / "calls.duckdb"
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(path))
    return path


def configure(monkeypatch: pytest.MonkeyPatch, sim: Simulator, slug: str,
              **extra: Any) -> dict[str, Any]:
    """Point `[sources.<slug>]` at the simulator through environment variables."""
    values = {**sim.providers[slug].config(sim.url), **extra}
    for key, value in values.items():
        name = f"SOURCES__{slug.upper()}__{key.upper()}"
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, json.dumps(value) if isinstance(value, list) else str(value))
    return values


def query(path: Path, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(path), read_only=True) as con:
        con.execute("set TimeZone = 'UTC'")
        return con.execute(sql, params or []).fetchall()


def calls_snapshot(path: Path) -> dict[str, tuple[Any, ...]]:
    """`calls` by call_key, every column but synced_at."""
    rows = query(path, "select call_key, * exclude (call_key, synced_at) from calls")
    return {row[0]: row[1:] for row in rows}
