"""Known fake secrets never reach any output, log, table or file that callsync writes."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from dlt.common.versioned_state import decompress_state

from pipelines.warehouse import pipelines_dir
from simulator.server import Simulator
from sources import PROVIDERS
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


def secrets_of(sim: Simulator) -> list[str]:
    """Every credential the providers are configured with, and the tokens SIPSIM issued."""
    found = []
    for slug, provider in PROVIDERS.items():
        config = sim.providers[slug].config(sim.url)
        found += [str(config[k]) for keys in provider.secret_keys for k in keys if k in config]
    found += list(sim.providers["sipsim"].tokens)
    return found


@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug"])
def test_secrets_are_nowhere(
    sim: Simulator, warehouse: Path, isolated: Path, monkeypatch: pytest.MonkeyPatch,
    debug: bool,
) -> None:
    sim.providers["bland"].api_key = SECRET
    for slug in PROVIDERS:
        configure(monkeypatch, sim, slug)
    for slug in PROVIDERS:  # APIs that echo their own credentials in error bodies
        config = sim.providers[slug].config(sim.url)
        echo = " ".join(str(config[k]) for keys in PROVIDERS[slug].secret_keys
                        for k in keys if k in config)
        sim.fail_next(503, slug, body={"errors": [f"upstream saw {echo}"],
                                       "message": f"upstream saw {echo}"})
        if slug == "unpod":
            sim.fail_next(400, slug, body={"status_code": 400, "message": f"bad {echo}"})
    run = callsync(*(["--debug"] if debug else []), "sync", cwd=isolated)
    assert run.code == 1 and "unpod" in run.err  # the 400 fails unpod, the rest load
    status = callsync("status", cwd=isolated)
    as_json = callsync("status", "--json", cwd=isolated)
    assert "HTTP 400" in as_json.out  # unpod's error, as sync_runs keeps it
    assert sim.requests_for("bland")[-1].header("authorization") == SECRET  # it was used
    secrets = secrets_of(sim)
    assert SECRET in secrets and len(secrets) >= 6
    outputs = run.out + run.err + status.out + status.err + as_json.out + as_json.err
    values = every_value(warehouse)
    files = every_file(pipelines_dir(warehouse)) + every_file(warehouse.parent / "published")
    states = ""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for slug in ("bland", "sipsim", "jambonz"):  # dlt's state blob is compressed
            blobs = con.execute(f"select state from raw_{slug}._dlt_pipeline_state").fetchall()
            assert blobs
            states += "".join(str(decompress_state(blob)) for (blob,) in blobs)
    for secret in secrets:
        assert secret not in outputs
        assert secret not in values
        assert secret.encode() not in files
        assert secret not in states
