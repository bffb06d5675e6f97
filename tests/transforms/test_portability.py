"""Every model goes through sqlglot's DuckDB -> Postgres transpiler (house style: SQL
written once for DuckDB must carry to Postgres; macros are the adapter).

Staging is per-engine for now (DuckDB's JSON functions and macros): it must only parse.
The marts are portable: sqlglot meets nothing it cannot carry, their Postgres output
holds no DuckDB-only construct (`UNION ALL BY NAME`, `SELECT * EXCEPT/EXCLUDE`,
`QUALIFY`), and the marts are written without them and without `try_cast` (sqlglot writes
a plain `CAST` for Postgres: an error there where DuckDB gives null). The source is
checked too because sqlglot rewrites some forms (`QUALIFY`) on its own, and a reader, or an
engine another tool feeds, meets the SQL as written."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp

from pipelines.transform import VARIABLE, models

DUCKDB_ONLY_WORDS = ("BY NAME", "EXCEPT (", "EXCLUDE", "QUALIFY")


def rendered(path: Path) -> str:
    """The model with each `{{ variable }}` as a plain relation name (as the runner's
    variables render to relations)."""
    return VARIABLE.sub(lambda m: ".".join(filter(None, m.groups())), path.read_text())


def to_postgres(sql: str) -> str:
    """The one statement of `sql` in Postgres, comments dropped (they are carried as
    written); raises `UnsupportedError` on anything sqlglot cannot carry."""
    out = sqlglot.transpile(sql, read="duckdb", write="postgres", comments=False,
                            unsupported_level=sqlglot.ErrorLevel.RAISE)
    assert len(out) == 1
    return out[0]


def not_portable(sql: str) -> list[str]:
    """What keeps a mart's DuckDB SQL from carrying faithfully to Postgres."""
    found = [f"{word!r} in the Postgres output" for word in DUCKDB_ONLY_WORDS
             if word in to_postgres(sql).upper()]
    tree = sqlglot.parse_one(sql, read="duckdb")
    found += ["qualify" for _ in tree.find_all(exp.Qualify)]
    found += ["union by name" for node in tree.find_all(exp.Union) if node.args.get("by_name")]
    found += ["* exclude" for node in tree.find_all(exp.Star) if node.args.get("except_")]
    found += ["try_cast" for _ in tree.find_all(exp.TryCast)]
    return found


@pytest.mark.parametrize("path", models("staging"), ids=lambda p: p.stem)
def test_staging_model_transpiles(path: Path) -> None:
    assert to_postgres(rendered(path)).upper().startswith(("SELECT", "WITH"))


@pytest.mark.parametrize("path", models("marts"), ids=lambda p: p.stem)
def test_mart_is_portable_to_postgres(path: Path) -> None:
    sql = rendered(path)
    assert not_portable(sql) == []
    # what sqlglot wrote is Postgres that sqlglot reads back
    assert sqlglot.parse_one(to_postgres(sql), read="postgres") is not None


@pytest.mark.parametrize(("sql", "reason"), [
    ("select * exclude (record) from t", "* exclude"),
    ("select a from t union all by name select a from u", "union by name"),
    ("select a from t qualify row_number() over (partition by a) = 1", "qualify"),
    ("select try_cast(a as integer) as a from t", "try_cast"),
])
def test_each_duckdb_only_construct_is_caught(sql: str, reason: str) -> None:
    assert reason in not_portable(sql)


def test_what_sqlglot_cannot_carry_fails() -> None:
    with pytest.raises(sqlglot.errors.UnsupportedError):
        to_postgres("select * from t pivot (sum(a) for b in (1, 2))")
