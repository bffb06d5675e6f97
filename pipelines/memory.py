"""Memory between and inside the phases of a sync: what extraction leaves is given back
before the loads and the build, and DuckDB works under a small cap, getting the ceiling
(`[callsync] memory_limit`) only for the statement that needs it."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import dlt
import duckdb

from pipelines.warehouse import destination, memory_ceiling, working_limit

log = logging.getLogger("callsync.memory")
T = TypeVar("T")
TRIM_SECONDS = 0.25  # how often `trimming` gives freed heap pages back


def release_memory() -> None:
    """Close the page parser's DuckDB, collect garbage, then ask glibc to return its free
    heap pages (a no-op elsewhere).

    Extraction threads leave freed Arrow buffers and pages in malloc's arenas; without
    this the process keeps them through the model build, and peak RSS adds up.
    """
    close_parser()
    gc.collect()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@contextmanager
def trimming(every: float = TRIM_SECONDS) -> Iterator[None]:
    """Inside, a thread gives glibc's free heap pages back to the OS every `every` seconds.

    Extraction threads free page bodies and Arrow buffers in several malloc arenas, and
    glibc keeps the pages (1M calls, four providers at once: 445 MiB free in the arenas
    beside 258 in use, peak RSS 586 MiB; with a trim every 0.25 s, 454-461 MiB and no
    slower; every allocation over 128 KB mmapped instead: 427 MiB, 8 s slower). A no-op
    where the C library is not glibc.
    """
    trim = _malloc_trim()
    if trim is None:
        yield
        return
    stop = threading.Event()

    def run() -> None:
        while not stop.wait(every):
            trim(0)  # ctypes lets go of the GIL for the call

    thread = threading.Thread(target=run, name="malloc-trim", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        return ctypes.CDLL(name).malloc_trim  # type: ignore[no-any-return]
    except (OSError, AttributeError):  # not glibc (musl, macOS)
        return None


def close_parser() -> None:
    """Close the in-memory DuckDB that parsed the pages (`sources._native.close`): its
    buffers and caches go back; a later page read opens a new one."""
    from sources import _native

    _native.close()


def out_of_memory(exc: BaseException) -> bool:
    """Whether DuckDB's out-of-memory error is `exc` or its cause (dlt wraps it, and keeps
    only its text in a retried load job's failure)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, duckdb.OutOfMemoryException) or \
                "Out of Memory Error" in str(current):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def roomier(con: duckdb.DuckDBPyConnection, run: Callable[[], T]) -> T:
    """`run()` under `con`'s working cap; when DuckDB runs out of memory there, once more
    under the ceiling (`[callsync] memory_limit`), then back to the working cap.

    `run` must be safe to repeat (a model build is: it runs in a transaction).
    """
    try:
        return run()
    except duckdb.OutOfMemoryException:
        ceiling, working = memory_ceiling(), working_limit()
        if ceiling == working:
            raise
        log.info("DuckDB ran out of memory under %s: again under memory_limit %s",
                 working, ceiling)
    with under_ceiling(con):
        return run()


def load(pipeline: dlt.Pipeline, warehouse: Path,
         shared: duckdb.DuckDBPyConnection | None = None) -> Any:
    """`pipeline.load()` under the working cap; a load that ran out of memory there is
    finished under the ceiling (dlt keeps the package: nothing is lost or loaded twice),
    through `shared` if the pipeline's destination works through it."""
    try:
        return pipeline.load()
    except Exception as exc:
        if not out_of_memory(exc) or memory_ceiling() == working_limit():
            raise
        log.info("%s: DuckDB ran out of memory loading under %s: again under "
                 "memory_limit %s", pipeline.pipeline_name, working_limit(), memory_ceiling())
    return pipeline.load(destination=destination(warehouse, roomy=True, con=shared))


@contextmanager
def under_ceiling(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """`con` under the ceiling (`[callsync] memory_limit`) inside, its working cap after."""
    _set_limit(con, memory_ceiling())
    try:
        yield
    finally:
        _set_limit(con, working_limit())


def _set_limit(con: duckdb.DuckDBPyConnection, limit: str) -> None:
    con.execute("set memory_limit = '" + limit.replace("'", "''") + "'")


class Countdown:
    """Calls `then` once, when `done` has been called `n` times (from any thread): the
    last provider to finish extracting releases what extraction held, before its load."""

    def __init__(self, n: int, then: Callable[[], None]) -> None:
        self._left = n
        self._then = then
        self._lock = threading.Lock()

    def done(self) -> None:
        with self._lock:
            self._left -= 1
            last = self._left == 0
        if last:
            self._then()
