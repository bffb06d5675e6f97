"""A sync SIGKILLed anywhere, then run again, ends with the tables of one clean run."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import dlt
import duckdb
import pytest
from dlt.pipeline.exceptions import PipelineStepFailed

from pipelines import sync
from pipelines.status import cursors
from pipelines.warehouse import destination, pipelines_dir
from simulator.server import Request, Simulator
from sources import PROVIDERS
from tests.conftest import calls_snapshot, configure, query


def state(warehouse: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return calls_snapshot(warehouse), cursors(con, "bland")


def start_sync(cwd: Path, failpoint: str | None) -> subprocess.Popen[str]:
    env = dict(os.environ)
    env.pop("CALLSYNC_FAILPOINT", None)
    if failpoint:
        env["CALLSYNC_FAILPOINT"] = failpoint
    return subprocess.Popen([sys.executable, "-m", "pipelines", "sync"], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("point", [
    "during_extract", "after_extract", "after_normalize", "after_load", "during_build",
])
def test_killed_sync_then_rerun_equals_one_clean_run(
    sim: Simulator, tmp_path: Path, isolated: Path, monkeypatch: pytest.MonkeyPatch,
    point: str,
) -> None:
    configure(monkeypatch, sim, "bland")
    clean = tmp_path / "clean" / "calls.duckdb"
    assert sync.run(clean).ok
    expected_calls, expected_cursors = state(clean)

    warehouse = tmp_path / "crash" / "calls.duckdb"
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(warehouse))
    if point == "during_extract":
        process = start_sync(isolated, None)
        served: list[Request] = []

        def kill_on_fifth_page(request: Request) -> None:
            served.append(request)
            if len(served) == 5:  # mid-walk: 2 of 3 numbers' logs read
                os.kill(process.pid, signal.SIGKILL)

        sim.on_request = kill_on_fifth_page
    else:
        process = start_sync(isolated, point)
    process.communicate(timeout=120)
    sim.on_request = None
    assert process.returncode == -signal.SIGKILL

    result = sync.run(warehouse)

    assert result.ok, [p.error for p in result.providers]
    calls, found_cursors = state(warehouse)
    assert calls == expected_calls
    assert found_cursors == expected_cursors
    assert query(warehouse, "select count(*) - count(distinct call_key) from calls") == [(0,)]


def test_a_normalize_killed_inside_its_commit_is_finished_by_the_next_sync(
    sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # dlt commits a normalized package by renaming it into load/normalized, then deleting
    # its extracted copy; a kill between the two (found by `make chaos`: another
    # provider's thread reached a crash point) left every later normalize failing
    configure(monkeypatch, sim, "bland")
    warehouse = tmp_path / "crash" / "calls.duckdb"
    assert sync.run(warehouse).ok
    sim.providers["bland"].add_calls(3)
    pipeline = dlt.pipeline(pipeline_name="callsync_bland", destination=destination(warehouse),
                            dataset_name="raw_bland", pipelines_dir=str(pipelines_dir(warehouse)))
    source, _ = sync._make_source(PROVIDERS["bland"], {}, None, None)
    pipeline.extract(source)
    (load_id,) = pipeline.list_extracted_load_packages()
    packages = pipeline._get_normalize_storage().extracted_packages
    extracted = Path(packages.storage.make_full_path(packages.get_package_path(load_id)))
    shutil.copytree(extracted, tmp_path / "extracted")
    pipeline.normalize()
    shutil.copytree(tmp_path / "extracted", extracted)  # the delete that never happened
    with pytest.raises(PipelineStepFailed):
        pipeline.normalize()  # as found: a retry fails on the rename, and leaves load/new

    result = sync.run(warehouse)

    assert result.ok, [p.error for p in result.providers]
    assert result.providers[0].new == 3
    clean = tmp_path / "clean" / "calls.duckdb"
    assert sync.run(clean).ok
    assert calls_snapshot(warehouse) == calls_snapshot(clean)
    assert query(warehouse, "select count(*) from raw_bland.sip_calls "
                 "where call_id in (select call_id from raw_bland.sip_calls "
                 "group by call_id, fetched_at having count(*) > 1)") == [(0,)]
