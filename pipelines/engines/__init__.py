"""The engines besides DuckDB that run the models: PostgreSQL (`postgres.py`) and Apache
Spark (`spark.py`).

The marts and checks are written once, in DuckDB's SQL, and carried to the other engine
by sqlglot (`transpile`); staging and macros are per engine
(`transforms/<engine>/staging/`, `transforms/<engine>/macros/`).
"""

from __future__ import annotations

from collections.abc import Callable

import sqlglot
from sqlglot import exp


def transpile(sql: str, dialect: str,
              rewrite: Callable[[exp.Expression], exp.Expression] | None = None) -> str:
    """The one statement of DuckDB `sql` in `dialect` (`postgres`, `spark`).

    Args:
        sql: One DuckDB statement.
        dialect: sqlglot's name of the target dialect.
        rewrite: Applied to every node of the parsed tree (`Expression.transform`) before
            it is written: the engine's fixes for what sqlglot does not carry.

    Raises:
        sqlglot.errors.UnsupportedError: a construct sqlglot cannot carry faithfully.
    """
    trees = [t for t in sqlglot.parse(sql, read="duckdb") if t is not None]
    if len(trees) != 1:
        raise ValueError(f"expected one statement, got {len(trees)}")
    tree = trees[0].transform(_anchored)
    tree = tree.transform(rewrite) if rewrite is not None else tree
    return tree.sql(dialect=dialect, unsupported_level=sqlglot.ErrorLevel.RAISE)


def _anchored(node: exp.Expression) -> exp.Expression:
    """DuckDB's `regexp_full_match(x, 'p')` (sqlglot writes it unchanged, and neither
    engine has it) as `regexp_matches(x, '^(?:p)$')`, which both engines are given."""
    pattern = node.expression if isinstance(node, exp.RegexpFullMatch) else None
    if isinstance(pattern, exp.Literal) and pattern.is_string:
        return exp.RegexpLike(this=node.this,
                              expression=exp.Literal.string(f"^(?:{pattern.this})$"))
    return node
