"""What a run prints: a summary of this run only, and output that survives a closed pipe."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from simulator.server import Simulator
from tests.cli.helpers import callsync_here
from tests.conftest import NOW, configure, query

BAD = {"direction": "inbound", "started_at": "2026-10-30T10:00:00Z"}  # no id: rejected
ODD = {"call_id": "odd", "started_at": "2026-10-30T10:00:00Z", "sip_code": 200,
       "direction": "sideways"}


def summary(out: str) -> dict[str, dict[str, str]]:
    """The summary table: provider -> column -> value."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("provider "))
    header = lines[start].split()
    rows = {}
    for line in lines[start + 1:]:
        if line.startswith("models") or not line.strip():
            break
        rows[line.split()[0]] = dict(zip(header, line.split(), strict=False))
    return rows


def test_the_summary_describes_this_run_only(
    sim: Simulator, warehouse: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bland = sim.providers["bland"]
    when = NOW - timedelta(days=2)  # far behind the lookback: read by the first sync only
    for i, record in enumerate([BAD, ODD]):
        bland.put_raw(bland.phone_numbers[0], record, when - timedelta(minutes=i))
    configure(monkeypatch, sim, "bland")

    first = summary(callsync_here("sync", capsys=capsys).out)["bland"]
    calls = query(warehouse, "select count(*) from raw_bland.sip_calls")[0][0]
    configs = query(warehouse, "select count(*) from raw_bland.sip_configs")[0][0]
    second = callsync_here("sync", capsys=capsys)

    assert (first["records"], first["others"]) == (str(calls), str(configs)) and configs > 0
    assert (first["rejected"], first["unknown"]) == ("1", "1")
    again = summary(second.out)["bland"]
    assert (again["new"], again["rejected"], again["unknown"]) == ("0", "0", "0")
    status = callsync_here("status", capsys=capsys)  # the totals are status's
    assert "1 rejected, 1 unknown" in status.out


def test_a_failed_build_shows_no_model_figures(
    sim: Simulator, warehouse: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure(monkeypatch, sim, "bland")
    assert callsync_here("sync", capsys=capsys).code == 0
    with duckdb.connect(str(warehouse)) as con:  # a table in the way of a model's view
        con.execute("drop view calls_rejected")
        con.execute("create table calls_rejected (x int)")

    run = callsync_here("sync", capsys=capsys)

    assert run.code == 1
    row = summary(run.out)["bland"]
    assert [row[c] for c in ("new", "updated", "rejected", "unknown")] == ["-"] * 4
    assert "models built" not in run.out
    assert any(line.startswith("failed: models not built: ") for line in run.err.splitlines())


@pytest.mark.parametrize("command", [["status"], ["--help"]])
def test_output_to_a_closed_pipe_ends_quietly(
    isolated: Path, warehouse: Path, command: list[str],
) -> None:
    warehouse.parent.mkdir(parents=True)
    duckdb.connect(str(warehouse)).close()
    read, write = os.pipe()
    os.close(read)  # the reader is gone before a line is written: `| head -0`
    try:
        done = subprocess.run([sys.executable, "-m", "pipelines", *command], cwd=isolated,
                              stdout=write, stderr=subprocess.PIPE, text=True, timeout=120,
                              check=False)
    finally:
        os.close(write)
    assert done.returncode == 0
    assert done.stderr == ""
