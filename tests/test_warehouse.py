"""DuckDB settings of the connections callsync opens."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.warehouse import (
    DEFAULT_MEMORY_LIMIT,
    DEFAULT_WORKING_MEMORY_LIMIT,
    connect,
    settings,
)


def limit_of(path: Path) -> str:
    with connect(path) as con:
        found = con.execute("select current_setting('memory_limit')").fetchone()
    assert found
    return str(found[0])


@pytest.mark.usefixtures("isolated")
def test_memory_limit_defaults_and_is_configurable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert settings() == {"memory_limit": DEFAULT_WORKING_MEMORY_LIMIT,
                          "preserve_insertion_order": False,
                          "allocator_background_threads": True}
    assert settings(roomy=True)["memory_limit"] == DEFAULT_MEMORY_LIMIT
    assert limit_of(tmp_path / "a.duckdb") == "122.0 MiB"  # DuckDB's way of saying 128MB
    monkeypatch.setenv("CALLSYNC__MEMORY_LIMIT", "64MB")  # below the working cap: it wins
    assert settings()["memory_limit"] == "64MB"
    assert limit_of(tmp_path / "b.duckdb") == "61.0 MiB"
