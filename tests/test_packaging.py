"""The wheel built from pyproject.toml works installed: it ships the SQL models and finds them.

Built with uv (hatchling from the package index, nothing else) and installed with
`uv pip install --no-deps --target` into a temporary folder, which is put first on
`PYTHONPATH`, so the installed copy, not this checkout, is imported.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import duckdb

from tests.conftest import PROJECT


def uv() -> list[str]:
    """The uv that `make setup` installed: `$UV` (set by `uv run`), on PATH, or python3 -m uv."""
    found = os.environ.get("UV") or shutil.which("uv")
    if found:
        return [found]
    python3 = shutil.which("python3")
    assert python3, "uv not found: run `make setup` first"
    return [python3, "-m", "uv"]


def run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_installed_wheel_ships_and_finds_the_sql_models(tmp_path: Path) -> None:
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    run(*uv(), "build", "--wheel", "--quiet", "--python", sys.executable,
        "--out-dir", str(tmp_path / "dist"), str(PROJECT), cwd=tmp_path, env=env)
    (wheel,) = (tmp_path / "dist").glob("callsync-*.whl")
    models = {p.relative_to(PROJECT).as_posix() for p in (PROJECT / "transforms").rglob("*.sql")}
    assert "transforms/marts/calls.sql" in models
    with zipfile.ZipFile(wheel) as archive:
        assert models <= set(archive.namelist())

    site = tmp_path / "site"
    run(*uv(), "pip", "install", "--quiet", "--no-deps", "--python", sys.executable,
        "--target", str(site), str(wheel), cwd=tmp_path, env=env)
    elsewhere = tmp_path / "elsewhere"  # not the checkout: `python -c` puts the cwd first
    elsewhere.mkdir()
    installed = {**env, "PYTHONPATH": str(site)}
    found = run(sys.executable, "-c",
                "from pipelines.transform import TRANSFORMS; print(TRANSFORMS)",
                cwd=elsewhere, env=installed).strip()
    assert Path(found) == site / "transforms"
    assert (Path(found) / "marts" / "calls.sql").is_file()

    # the installed console script builds every model on an empty warehouse
    warehouse = elsewhere / "calls.duckdb"
    duckdb.connect(str(warehouse)).close()
    run(str(site / "bin" / "callsync"), "transform", cwd=elsewhere,
        env={**installed, "DESTINATION__DUCKDB__CREDENTIALS": str(warehouse)})
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = {row[0] for row in con.execute(
            "select table_name from information_schema.tables where table_schema = 'main'"
        ).fetchall()}
    assert {"calls", "calls_daily", "sip_configs", "active_calls", "calls_rejected"} <= tables
