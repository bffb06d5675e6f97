"""Without pandas installed, `import pandas` fails at once (imported for that effect).

DuckDB's Python client tries `import pandas` at every statement with parameters; where
pandas is not installed, each try searched sys.path (~0.15 ms, twice a page: 8-11 % of a
1M backfill's CPU in `make bench`'s profile). A finder first in `sys.meta_path` fails it
at once, as Python would after the search. With pandas installed, nothing changes.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
from typing import Any


class NoPandas(importlib.abc.MetaPathFinder):
    """`import pandas` raises ModuleNotFoundError without searching."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == "pandas":
            raise ModuleNotFoundError("No module named 'pandas'", name="pandas")


def install() -> None:
    """Put `NoPandas` first in `sys.meta_path`, once, where pandas is not installed."""
    if any(isinstance(finder, NoPandas) for finder in sys.meta_path):
        return
    if "pandas" not in sys.modules and importlib.util.find_spec("pandas") is None:
        sys.meta_path.insert(0, NoPandas())


install()
