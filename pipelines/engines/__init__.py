"""The engines besides DuckDB that run the models: PostgreSQL (`postgres.py`) and Apache
Spark (`spark.py`).

The marts and checks are written once, in DuckDB's SQL, and carried to the other engine
by sqlglot (`transpile`); staging and macros are per engine
(`transforms/<engine>/staging/`, `transforms/<engine>/macros/`).
"""

from __future__ import annotations

import sqlglot


def transpile(sql: str, dialect: str) -> str:
    """The one statement of DuckDB `sql` in `dialect` (`postgres`, `spark`).

    Raises:
        sqlglot.errors.UnsupportedError: a construct sqlglot cannot carry faithfully.
    """
    out = sqlglot.transpile(sql, read="duckdb", write=dialect,
                            unsupported_level=sqlglot.ErrorLevel.RAISE)
    if len(out) != 1:
        raise ValueError(f"expected one statement, got {len(out)}")
    return out[0]
