"""`callsync sync`: extract + load each provider with dlt, then build the models.

One dlt pipeline per provider (`callsync_<slug>`, dataset `raw_<slug>`) into one DuckDB
file. dlt keeps its state in the warehouse, so a lost working folder resumes from there.
A provider that fails is reported and the others still load.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dlt
import duckdb
from dlt.common.configuration.exceptions import (
    ConfigFieldMissingException,
    ConfigValueCannotBeCoercedException,
)

from pipelines import memory, readers, runs, transform
from pipelines.engines import spark as spark_engine
from pipelines.errors import one_line
from pipelines.failpoints import failpoint
from pipelines.follow import read_unfinished
from pipelines.lock import WarehouseLock
from pipelines.memory import release_memory
from pipelines.progress import Progress
from pipelines.warehouse import connect, destination, pipelines_dir
from sources import PROVIDERS, Provider, all_raw_columns
from sources._config import where
from sources._http import ConfigError, Meter, ProviderError

log = logging.getLogger("callsync.sync")
CHECKPOINT_ROWS = 10_000  # a load of more rows is checkpointed at once (a no-op's are not)


@dataclass
class ProviderResult:
    """One provider's part of a sync, as the summary prints it."""

    slug: str
    ok: bool = False
    error: str | None = None
    pages: int = 0
    requests: int = 0
    records: int = 0  # call records loaded
    others: int = 0  # other records loaded: SIP configs, live calls
    new: int = 0
    updated: int = 0
    seconds: float = 0.0
    # for `sync_runs` (pipelines/runs.py)
    started_at: datetime = field(default_factory=runs.now)
    finished_at: datetime | None = None
    window_start: datetime | None = None
    api_count: int | None = None  # what the API said the window holds, where it says so
    received: int | None = None  # records received for the window; None: `records`


@dataclass
class SyncResult:
    """A whole sync: its providers, and what the model build made of this run's records."""

    providers: list[ProviderResult] = field(default_factory=list)
    began_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    rejected: dict[str, int] = field(default_factory=dict)
    unknown: dict[str, int] = field(default_factory=dict)
    build_seconds: float = 0.0
    build_error: str | None = None
    run_id: str = field(default_factory=runs.new_run_id)
    window: tuple[datetime | None, datetime | None] | None = None  # a backfill's (start, end)
    publish_error: str | None = None

    @property
    def ok(self) -> bool:
        return (all(p.ok for p in self.providers) and self.build_error is None
                and self.publish_error is None)


def is_configured(provider: Provider, overrides: Mapping[str, Any] | None = None) -> bool:
    """A provider is synced when one full set of its secret keys is configured."""
    given = overrides or {}
    for keys in provider.secret_keys:
        if all(given.get(k) or dlt.secrets.get(f"sources.{provider.slug}.{k}") for k in keys):
            return True
    return False


def select(names: Sequence[str], overrides: Mapping[str, Mapping[str, Any]]) -> list[Provider]:
    """The providers to sync: those named (each must exist), else every configured one."""
    unknown = [n for n in names if n not in PROVIDERS]
    if unknown:
        raise ConfigError("callsync", f"unknown source {unknown[0]!r}; known: "
                          f"{', '.join(PROVIDERS)}")
    if names:
        return [PROVIDERS[n] for n in dict.fromkeys(names)]
    chosen = [p for p in PROVIDERS.values() if is_configured(p, overrides.get(p.slug))]
    if not chosen:
        first = next(iter(PROVIDERS.values()))
        raise ConfigError("callsync", "no provider is configured: set a provider's secret, "
                          f"e.g. {where(first.slug, first.secret_keys[0][0])}")
    return chosen


def run(
    warehouse: Path,
    names: Sequence[str] = (),
    start: datetime | None = None,
    end: datetime | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> SyncResult:
    """Sync the chosen providers into `warehouse`, then build the models.

    Args:
        warehouse: The DuckDB file.
        names: Providers to sync; empty means every configured one.
        start: Backfill window start (with `end`, or up to now); the cursor does not move.
        end: Backfill window end, exclusive.
        overrides: Per provider, source arguments that win over dlt config (the demo's).
    """
    overrides = overrides or {}
    chosen = select(names, overrides)
    # destination = "filesystem": raw Parquet, models on Spark (the demo, whose sources
    # come with `overrides`, always writes its DuckDB file)
    spark = None if overrides else spark_engine.configured()
    if spark is not None:
        spark.ready()  # Java, the master, the bucket: before any request
    publishing = readers.enabled() and spark is None  # a malformed setting fails first
    result = SyncResult(window=(start, end) if start or end else None)
    sources = {}
    for provider in chosen:  # every configuration error before any request or file
        outcome = ProviderResult(provider.slug)
        result.providers.append(outcome)
        try:
            sources[provider.slug] = _make_source(provider, overrides, start, end)
        except ProviderError as exc:
            outcome.error = str(exc)
    if not sources:  # nothing to run: refuse before creating the warehouse
        raise Refused([o.error or o.slug for o in result.providers])
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    with WarehouseLock(warehouse):
        # calls left unfinished are fetched again (not on a backfill: its window is fixed);
        # the warehouse is read under the lock, so those sources are made again with them
        try:
            unfinished = ({} if start is not None or end is not None
                          else spark_engine.read_unfinished(spark) if spark
                          else read_unfinished(warehouse))
        except duckdb.Error as exc:  # e.g. --warehouse names a file that is not DuckDB's
            raise ConfigError("callsync", one_line(exc)) from None
        for slug in sources:
            if unfinished.get(slug):
                sources[slug] = _make_source(PROVIDERS[slug], overrides, start, end,
                                             unfinished[slug])
        started = [o for o in result.providers if o.slug in sources]
        # every provider at once: extraction (the network-bound part) and normalize run
        # side by side; the warehouse is written by one provider at a time, the first
        # done first, while the others still extract
        database = threading.Lock()
        meters = {o.slug: sources[o.slug][1] for o in started}
        target = (spark.destination(), pipelines_dir(warehouse)) if spark else None
        # the parser's DuckDB and what extraction freed go back before the last load
        extracted = memory.Countdown(len(started), release_memory)
        # the providers' pipelines restore and load through one open connection: dlt
        # opening the file itself did so 3 times a load and once a restore (~15 ms each,
        # a checkpoint at each close: 0.3 s of an all-four no-op at 1M calls)
        with Progress(meters), memory.trimming(), \
                (nullcontext() if spark else connect(warehouse)) as shared, \
                ThreadPoolExecutor(max_workers=max(1, len(started))) as pool:
            list(pool.map(lambda o: _sync_one(warehouse, sources[o.slug], o, database,
                                                target, extracted, shared), started))
        release_memory()  # what the loads freed, back to the OS before the build
        if spark is not None:  # the marts as Parquet datasets in the bucket
            with spark_engine.recorded(spark, result):
                spark_engine.build_after_sync(spark, result)
            return result
        with runs.recorded(warehouse, result):  # sync_runs rows, also when the build fails
            _build(warehouse, result)
        if publishing:
            result.publish_error = readers.publish_quietly(warehouse)
    return result


class Refused(ConfigError):
    """The configuration of every chosen provider was refused: nothing was started."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("callsync", "no provider can start")
        self.args = ("\n".join(reasons),)  # one line per provider, each naming its key


def _make_source(
    provider: Provider, overrides: Mapping[str, Mapping[str, Any]],
    start: datetime | None, end: datetime | None, unfinished: Any = None,
) -> tuple[Any, Meter]:
    meter = Meter()
    kwargs: dict[str, Any] = dict(overrides.get(provider.slug, {}))
    kwargs["meter"] = meter
    if unfinished:
        kwargs["unfinished"] = unfinished
    if start is not None or end is not None:
        if start is None:
            raise ConfigError(provider.slug, "--end needs --start")
        kwargs["backfill"] = (start, end)
    try:
        return provider.source(**kwargs), meter
    except ConfigFieldMissingException as exc:
        raise ConfigError(provider.slug, _missing_message(provider.slug, exc)) from None
    except ConfigValueCannotBeCoercedException as exc:
        raise ConfigError(provider.slug, f"{where(provider.slug, exc.field_name)}: the "
                          "configured value is not a valid "
                          f"{getattr(exc.hint, '__name__', exc.hint)}") from None
    except Exception as exc:
        found = _provider_error(exc)
        if found is not None:
            raise found from None
        raise



def _missing_message(slug: str, exc: ConfigFieldMissingException) -> str:
    keys = list(exc.fields)
    return "missing " + " and ".join(where(slug, k) for k in keys) + \
        " (.dlt/secrets.toml or .dlt/config.toml, section [sources." + slug + "])"


def _provider_error(exc: BaseException) -> ProviderError | None:
    """The `ProviderError` inside dlt's wrapping exceptions, if there is one."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ProviderError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _sync_one(
    warehouse: Path, made: tuple[Any, Meter], outcome: ProviderResult,
    database: threading.Lock, target: tuple[Any, Path] | None = None,
    extracted: memory.Countdown | None = None,
    shared: duckdb.DuckDBPyConnection | None = None,
) -> None:
    """One provider's extract, normalize and load; `target` (another engine's dlt
    destination and working folder) replaces the DuckDB file's; `extracted` is told when
    the extraction ended; `shared`, an open connection to the DuckDB file, is the one dlt
    works through (`pipelines.warehouse.destination`)."""
    outcome.started_at = runs.now()
    try:
        pipeline = _extract(warehouse, made, outcome, database, target, shared)
    finally:
        if extracted is not None:
            extracted.done()
    outcome.window_start = runs.window_start(made[0])
    if pipeline is not None:
        _finish(pipeline, outcome, database, None if target else warehouse, shared)
    outcome.finished_at = runs.now()


def _extract(
    warehouse: Path, made: tuple[Any, Meter], outcome: ProviderResult,
    database: threading.Lock, target: tuple[Any, Path] | None = None,
    shared: duckdb.DuckDBPyConnection | None = None,
) -> dlt.Pipeline | None:
    """Restore state, finish what a killed run left, and extract: the pipeline, or None
    when the provider failed (`outcome.error` says why)."""
    source, meter = made
    began = time.monotonic()
    into, workdir = target or (destination(warehouse, con=shared), pipelines_dir(warehouse))
    pipeline = dlt.pipeline(
        pipeline_name=f"callsync_{outcome.slug}",
        destination=into,
        dataset_name=f"raw_{outcome.slug}",
        pipelines_dir=str(workdir),
    )
    try:
        with database, _timed(outcome.slug, "state restored from the warehouse"):
            pipeline.sync_destination()  # a lost working folder resumes from the warehouse
            if pipeline.has_pending_data:
                log.info("%s: finishing the load a previous run left", outcome.slug)
                finish_normalize_commit(pipeline, outcome.slug)
                pipeline.normalize()
                _load(pipeline, None if target else warehouse, shared)
        with _timed(outcome.slug, "extracted"):
            pipeline.extract(source)
        failpoint("after_extract")
        return pipeline
    except Exception as exc:
        _failed(outcome, exc)
        return None
    finally:
        outcome.pages, outcome.requests = meter.pages, meter.requests
        outcome.api_count, outcome.received = meter.api_count, meter.received
        outcome.seconds = time.monotonic() - began


def finish_normalize_commit(pipeline: dlt.Pipeline, slug: str) -> None:
    """Finish a normalize that a kill cut inside its commit.

    dlt commits a normalized package by renaming it into `load/normalized`, then deleting
    its extracted copy. Killed between the two (by anything: another provider's thread
    reaching a crash, OOM, power), both remain, and every later normalize fails on the
    rename ("Directory not empty"): the provider would never sync again. The renamed
    package is whole (the rename is atomic and comes after every file is written), so
    the commit is finished here: the extracted copy goes, with the temp folder that a
    failed retry leaves in `load/new`.
    """
    normalized = set(pipeline.list_normalized_load_packages())
    for load_id in pipeline.list_extracted_load_packages():
        if load_id in normalized:
            log.info("%s: finishing the normalize of package %s a killed run left", slug,
                     load_id)
            pipeline._get_load_storage().new_packages.delete_package(load_id,
                                                                     not_exists_ok=True)
            pipeline._get_normalize_storage().extracted_packages.delete_package(load_id)


def _finish(pipeline: dlt.Pipeline, outcome: ProviderResult, database: threading.Lock,
            warehouse: Path | None = None,
            shared: duckdb.DuckDBPyConnection | None = None) -> None:
    """Normalize and load what `_extract` left in the working folder (into `warehouse`,
    the DuckDB file, if given: with the memory ceiling as a fallback)."""
    began = time.monotonic()
    try:
        with _timed(outcome.slug, "normalized"):
            pipeline.normalize()
        failpoint("after_normalize")
        with database, _timed(outcome.slug, "loaded"):
            _load(pipeline, warehouse, shared)
        failpoint("after_load")
        outcome.ok = True
    except Exception as exc:
        _failed(outcome, exc)
    finally:
        outcome.seconds += time.monotonic() - began
        calls = PROVIDERS[outcome.slug].call_tables
        for table, n in _normalized(pipeline).items():
            if table.startswith("_dlt"):
                continue
            if table in calls:
                outcome.records += n
            else:
                outcome.others += n


def _normalized(pipeline: dlt.Pipeline) -> dict[str, int]:
    """Rows per table of the pipeline's last normalize ({} if it has none)."""
    trace = pipeline.last_trace
    normalize = trace.last_normalize_info if trace else None
    return dict(normalize.row_counts) if normalize is not None else {}


def _load(pipeline: dlt.Pipeline, warehouse: Path | None,
          shared: duckdb.DuckDBPyConnection | None = None) -> None:
    if warehouse is None:  # another engine's destination
        pipeline.load()
        return
    memory.load(pipeline, warehouse, shared)
    if shared is not None and sum(_normalized(pipeline).values()) >= CHECKPOINT_ROWS:
        # as closing the file after each load did: four providers at 1M calls peaked
        # ~50 MiB higher without it (499-535 MiB against 448-495, alternated)
        shared.execute("checkpoint")


@contextmanager
def _timed(slug: str, done: str) -> Iterator[None]:
    began = time.monotonic()
    yield
    log.debug("%s: %s in %.2f s", slug, done, time.monotonic() - began)


def _failed(outcome: ProviderResult, exc: Exception) -> None:
    found = _provider_error(exc)
    outcome.error = str(found) if found else f"{outcome.slug}: {_one_line(exc)}"
    log.debug("%s failed", outcome.slug, exc_info=True)


def _one_line(exc: BaseException) -> str:
    """The cause inside dlt's wrappers, in one line, with what to do (`errors.one_line`)."""
    return one_line(exc)


def _build(warehouse: Path, result: SyncResult) -> None:
    began = time.monotonic()
    try:
        with connect(warehouse) as con:
            # the build retries under the ceiling itself (`transform.build`)
            report = transform.build(con, all_raw_columns(), incremental=True)
            for outcome in result.providers:
                outcome.new = report.new.get(outcome.slug, 0)
                outcome.updated = report.updated.get(outcome.slug, 0)
            result.rejected, result.unknown = memory.roomier(
                con, lambda: quality(con, since=result.began_at))
    except duckdb.Error as exc:
        log.debug("the model build failed", exc_info=True)
        result.build_error = f"models not built: {_one_line(exc)}"
    result.build_seconds = time.monotonic() - began


def quality(
    con: duckdb.DuckDBPyConnection, since: datetime | None = None,
) -> tuple[dict[str, int], dict[str, int]]:
    """Per provider: rows in `calls_rejected`, and `calls` rows with an `unknown` value;
    with `since`, only those loaded since then (this run's; on DuckDB a call fetched again
    unchanged keeps its older `synced_at`, so only new and changed calls count)."""
    bound = since or datetime(1, 1, 1, tzinfo=UTC)
    rejected = dict(con.execute(
        "select provider, count(*) from calls_rejected where loaded_at >= ? group by 1",
        [bound]).fetchall())
    unknown = dict(con.execute(
        "select provider, count(*) from calls where synced_at >= ? "
        "and (status = 'unknown' or direction = 'unknown') group by 1", [bound]).fetchall())
    return rejected, unknown
