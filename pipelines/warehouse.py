"""Where the warehouse file and dlt's working folder are."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dlt
import duckdb

from pipelines.errors import UsageError

DEFAULT_WAREHOUSE = Path("data/calls.duckdb")
DEMO_WAREHOUSE = Path("data/demo.duckdb")

# `--warehouse`, set once by the command line (`use`); it wins over dlt's configuration
_chosen: Path | None = None


def use(path: str | Path | None) -> None:
    """Make `path` the warehouse of this process (the CLI's `--warehouse`; None forgets it).

    Raises:
        UsageError: `path` is empty or names a directory.
    """
    global _chosen
    if path is not None and (not str(path).strip() or resolve(path).is_dir()):
        raise UsageError(f"--warehouse {str(path)!r} is not a file: name a DuckDB file, "
                         "e.g. --warehouse data/calls.duckdb")
    _chosen = resolve(path) if path is not None else None


def resolve(path: str | Path) -> Path:
    """`path` as an absolute file path: `~` expanded, relative to the working directory.

    dlt does not expand `~` and DuckDB does: both must be handed this one absolute path,
    or the raw tables and the models end up in two files.
    """
    text = str(path).removeprefix("duckdb:///")
    return Path(text).expanduser().absolute()


def warehouse_path(default: Path = DEFAULT_WAREHOUSE) -> Path:
    """The warehouse file every part of a run uses, absolute.

    `--warehouse` wins, then `DESTINATION__DUCKDB__CREDENTIALS` (dlt's config), then
    `default` (`data/calls.duckdb`; the demo passes `data/demo.duckdb` and ignores dlt's
    configuration, so that it never writes into a real warehouse).
    """
    if _chosen is not None:
        return _chosen
    if default == DEFAULT_WAREHOUSE:
        configured: object = dlt.config.get("destination.duckdb.credentials")
        if isinstance(configured, str) and configured.strip() and configured != ":memory:":
            return resolve(configured.strip())
    return resolve(default)


def missing(warehouse: Path) -> str:
    """What to do when `warehouse` does not exist: one line for the CLI."""
    advice = "run `callsync sync` to create it, or point at another file with --warehouse PATH"
    demo = resolve(DEMO_WAREHOUSE)
    if demo != warehouse and demo.exists():
        advice += f" (`callsync demo` wrote {demo})"
    return f"no warehouse at {warehouse}: {advice}"


# DuckDB's default cap is 80 % of RAM: a full model build of 1M calls peaked at 910 MiB
# here. `[callsync] memory_limit` (env CALLSYNC__MEMORY_LIMIT) is the ceiling; loads and
# builds start under the smaller `[callsync] working_memory_limit` and get the ceiling
# only when DuckDB runs out of memory under it (`pipelines.memory`): at 1M calls 128 MB
# kept the whole sync's peak under ~400 MiB, while a full build of 10M calls and loads of
# records of several KB each need the 512 MB (bench/README.md, "Memory flat in N").
DEFAULT_MEMORY_LIMIT = "512MB"
DEFAULT_WORKING_MEMORY_LIMIT = "128MB"
LOAD_MEMORY_LIMIT = "64MB"  # dlt's loads: one INSERT from parquet each, on one thread
_UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def memory_ceiling() -> str:
    """`[callsync] memory_limit`: the most DuckDB may use, as configured (default 512MB)."""
    limit: object = dlt.config.get("callsync.memory_limit") or DEFAULT_MEMORY_LIMIT
    return str(limit).strip()


def working_limit() -> str:
    """The cap loads and builds start under: `[callsync] working_memory_limit` (default
    128MB), or the ceiling where that is smaller or either is not a size in bytes."""
    working: object = (dlt.config.get("callsync.working_memory_limit")
                       or DEFAULT_WORKING_MEMORY_LIMIT)
    return _smaller(str(working).strip(), memory_ceiling())


def _smaller(a: str, b: str) -> str:
    size_a, size_b = _bytes(a), _bytes(b)
    return a if size_a is not None and size_b is not None and size_a < size_b else b


def _bytes(text: str) -> int | None:
    """A DuckDB size (`512MB`, `1.5GiB`, `100000 B`) in bytes; None for other forms."""
    number = text.strip().lower()
    for unit in sorted(_UNITS, key=len, reverse=True):
        if number.endswith(unit):
            try:
                return int(float(number[:-len(unit)].strip()) * _UNITS[unit])
            except ValueError:
                return None
    return None


def settings(roomy: bool = False) -> dict[str, Any]:
    """DuckDB settings of every connection callsync opens: the working cap (the ceiling
    with `roomy`). Every model orders what it needs explicitly, so insertion order need
    not be kept. The allocator's background thread returns freed memory to the system
    within a second instead of keeping it until the next allocation (measured: ~70 MiB
    less at a build's peak)."""
    return {"memory_limit": memory_ceiling() if roomy else working_limit(),
            "preserve_insertion_order": False, "allocator_background_threads": True}


def destination(warehouse: Path, roomy: bool = False,
                con: duckdb.DuckDBPyConnection | None = None) -> Any:
    """dlt's DuckDB destination for `warehouse`, with the memory settings; unless `roomy`,
    under `LOAD_MEMORY_LIMIT` on one thread: each thread inserting rows holds ~80 MB
    beyond the cap (an INSERT of 1M SIPSIM calls from parquet peaked ~330 MiB above the
    process on 2 threads under 128 MB, ~210 on one, ~150 on one under 64 MB, for a load
    1-2 s longer).

    With `con` (a connection to `warehouse`, see `shared`), dlt works through it instead
    of opening the file itself, and applies the settings to it each time it starts.
    """
    config = settings(roomy)
    if not roomy:
        config["memory_limit"] = _smaller(LOAD_MEMORY_LIMIT, config["memory_limit"])
        config["threads"] = 1
    if con is None:
        return dlt.destinations.duckdb({"database": str(warehouse), "global_config": config})
    from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials

    return dlt.destinations.duckdb(DuckDbCredentials(con, global_config=config))


def connect(warehouse: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection to `warehouse`, with the memory settings."""
    return duckdb.connect(str(warehouse), read_only=read_only, config=settings())


def pipelines_dir(warehouse: Path) -> Path:
    """dlt's local working folder for this warehouse (safe to delete: state is in the file)."""
    return warehouse.parent / f".{warehouse.stem}.dlt"


def engine() -> str:
    """The engine `[callsync] destination` names: `duckdb` (default), `postgres`, or
    `filesystem` (raw Parquet in a bucket, the models on Spark)."""
    chosen: object = dlt.config.get("callsync.destination")
    name = str(chosen).strip().lower() if chosen is not None else ""
    return name or "duckdb"


def check_engine() -> None:
    """Refuse a `[callsync] destination` callsync does not have (duckdb, postgres;
    filesystem, whose models run on Spark), `--warehouse` with postgres, and
    `spark_master` without the filesystem destination.

    Without this a user who asked for another engine would silently get DuckDB.

    Raises:
        UsageError: either key asks for an engine callsync does not have, or the Spark
            engine's bucket or master is unusable (`pipelines.engines.spark.configured`).
    """
    from pipelines.engines import spark

    if engine() not in ("duckdb", "postgres", "filesystem"):
        raise UsageError(f"destination {engine()!r} is not supported; only duckdb, postgres "
                         "or filesystem (unset [callsync] destination / CALLSYNC__DESTINATION)")
    if engine() == "postgres" and _chosen is not None:  # not silently another warehouse
        raise UsageError("--warehouse names a DuckDB file, but destination is postgres "
                         "(DESTINATION__POSTGRES__CREDENTIALS names the database): drop "
                         "--warehouse, or unset [callsync] destination / CALLSYNC__DESTINATION")
    if spark.configured() is not None:
        return
    if dlt.config.get("callsync.spark_master") not in (None, ""):
        raise UsageError("spark_master needs destination = \"filesystem\" (set "
                         "CALLSYNC__DESTINATION=filesystem, or unset [callsync] spark_master / "
                         "CALLSYNC__SPARK_MASTER)")
