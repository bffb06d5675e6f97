"""Known fake secrets never reach any output, log, table or file that callsync writes."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from dlt.common.versioned_state import decompress_state

from pipelines.warehouse import pipelines_dir
from simulator.server import Simulator
from tests.cli.helpers import callsync
from tests.conftest import configure

SECRET = "sk-live-FAKE-7f3a9c1e5b"


def every_value(warehouse: Path) -> str:
    """Every row of every table and view in the warehouse, as one text."""
    parts = []
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = con.execute("select table_schema, table_name from information_schema.tables"
                             ).fetchall()
        for schema, table in tables:
            rows = con.execute(f'select * from "{schema}"."{table}"').fetchall()
            parts.append(f"{schema}.{table}: {rows}")
    return "\n".join(parts)


def every_file(folder: Path) -> bytes:
    return b"\n".join(p.read_bytes() for p in folder.rglob("*") if p.is_file())


@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug"])
def test_secret_is_nowhere(
    sim: Simulator, warehouse: Path, isolated: Path, monkeypatch: pytest.MonkeyPatch,
    debug: bool,
) -> None:
    sim.providers["bland"].api_key = SECRET
    configure(monkeypatch, sim, "bland")
    sim.fail_next(503, "bland", body={"errors": [{"message": f"upstream saw {SECRET}"}]})
    run = callsync(*(["--debug"] if debug else []), "sync", cwd=isolated)
    assert run.code == 0, run.err
    status = callsync("status", cwd=isolated)
    assert sim.requests_for("bland")[0].header("authorization") == SECRET  # it was used
    assert SECRET not in run.out + run.err + status.out + status.err
    assert SECRET not in every_value(warehouse)
    assert SECRET.encode() not in every_file(pipelines_dir(warehouse))
    # dlt's state blob is compressed, which would hide it from the grep: decode it
    with duckdb.connect(str(warehouse), read_only=True) as con:
        blobs = con.execute("select state from raw_bland._dlt_pipeline_state").fetchall()
    assert blobs
    assert all(SECRET not in str(decompress_state(blob)) for (blob,) in blobs)
