"""Every staging and mart model goes through sqlglot's DuckDB -> Postgres transpiler
(house style: SQL written once for DuckDB must carry to Postgres; macros are the adapter).
This checks that sqlglot can carry each model, not that Postgres runs the result."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlglot

from pipelines.transform import VARIABLE, models


@pytest.mark.parametrize("path", models("staging") + models("marts"), ids=lambda p: p.stem)
def test_model_transpiles_to_postgres(path: Path) -> None:
    sql = VARIABLE.sub(lambda m: ".".join(filter(None, m.groups())), path.read_text())
    out = sqlglot.transpile(sql, read="duckdb", write="postgres",
                            unsupported_level=sqlglot.ErrorLevel.RAISE)
    assert len(out) == 1 and "select" in out[0].lower()
