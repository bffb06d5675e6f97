"""The provider registry: every provider callsync syncs, by slug."""

from __future__ import annotations

import os

# pyarrow's default pool (jemalloc/mimalloc) keeps what pages freed; the system allocator
# gives it back (-95 MiB at 1M calls). Read once, when pyarrow is first imported: here,
# before any source imports it, also when a source runs in someone else's dlt pipeline.
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from sources import _nopandas as _nopandas  # DuckDB's failed pandas imports, fast
from sources import bland
from sources.bland import settings as bland_settings
from sources.jambonz import jambonz_source
from sources.jambonz import settings as jambonz_settings
from sources.sipsim import settings as sipsim_settings
from sources.sipsim import sipsim_source
from sources.unpod import settings as unpod_settings
from sources.unpod import unpod_source


@dataclass(frozen=True)
class Provider:
    """A provider's source function and the facts the pipeline needs about it."""

    slug: str
    source: Callable[..., Any]
    settings: ModuleType

    @property
    def secret_keys(self) -> tuple[tuple[str, ...], ...]:
        """Alternative sets of secret keys; any one set configured means "sync it"."""
        return self.settings.SECRET_KEYS  # type: ignore[no-any-return]

    @property
    def call_tables(self) -> frozenset[str]:
        """The raw tables of call records: those with the `started_at` cursor (not SIP
        configs or live calls)."""
        tables: Mapping[str, Mapping[str, str]] = self.settings.RAW_COLUMNS
        return frozenset(t for t, columns in tables.items() if "started_at" in columns)

    def raw_columns(self) -> dict[str, str]:
        """`raw_<slug>.<table>` -> a typed, empty select list standing in for the table."""
        tables: Mapping[str, Mapping[str, str]] = self.settings.RAW_COLUMNS
        return {
            f"raw_{self.slug}.{table}": ", ".join(
                f'cast(null as {kind}) as "{name}"' for name, kind in columns.items())
            for table, columns in tables.items()
        }


PROVIDERS: dict[str, Provider] = {
    "bland": Provider("bland", bland.bland_source, bland_settings),
    "sipsim": Provider("sipsim", sipsim_source, sipsim_settings),
    "unpod": Provider("unpod", unpod_source, unpod_settings),
    "jambonz": Provider("jambonz", jambonz_source, jambonz_settings),
}


def all_raw_columns() -> dict[str, str]:
    return {k: v for p in PROVIDERS.values() for k, v in p.raw_columns().items()}
