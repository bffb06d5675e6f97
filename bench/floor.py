"""The floor under the backfill target: dlt and the model build alone, no API at all.

    python -m bench.floor --calls 1000000

N raw Bland-shaped calls (`bench.model_build`'s generator, made in an in-memory DuckDB)
reach a dlt resource as Arrow tables of `BATCH_ROWS` rows, already in callsync's raw
shape, with callsync's incremental; the pipeline extracts, normalizes and loads them into
a DuckDB file, and the models are built, each step timed. No HTTP, no JSON parsing, no
page building: what is left is the part of a sync that the issue requires to stay a dlt
pipeline, and the models. If it alone takes longer than N / 100,000 s, no change to the
fetching can reach 100k calls/s end to end on this machine.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import dlt
import duckdb
import pyarrow as pa

from bench.model_build import RAW
from pipelines import transform
from pipelines.warehouse import connect, destination
from sources import all_raw_columns
from sources._pages import BATCH_ROWS, RAW_CALL_SCHEMA, call_cursor


def source_rows(n: int) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB holding N raw rows (made before anything is timed)."""
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    con.execute("create schema raw_bland")
    con.execute("create table raw_bland.sip_calls (call_id varchar, started_at timestamptz, "
                "account_id varchar, record varchar, fetched_at timestamptz)")
    con.execute(RAW, [datetime.now(UTC), 0, n])
    return con


def batches(con: duckdb.DuckDBPyConnection) -> Iterator[pa.Table]:
    """The rows as Arrow tables of `BATCH_ROWS` (streamed out of DuckDB: native code)."""
    reader = con.execute("select * from raw_bland.sip_calls").to_arrow_reader(BATCH_ROWS)
    for batch in reader:
        yield pa.Table.from_batches([batch]).cast(RAW_CALL_SCHEMA)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.floor")
    parser.add_argument("--calls", type=int, default=1_000_000)
    n = parser.parse_args().calls
    folder = Path(tempfile.mkdtemp(prefix="callsync-floor-"))
    warehouse = folder / "calls.duckdb"
    rows = source_rows(n)

    @dlt.resource(name="sip_calls", write_disposition="append")
    def sip_calls(cursor: dlt.sources.incremental[datetime] = call_cursor(  # noqa: B008
            datetime(2000, 1, 1, tzinfo=UTC), 3600, None)) -> Iterator[pa.Table]:
        yield from batches(rows)  # as the sources do: the bound incremental filters the tables

    pipeline = dlt.pipeline(pipeline_name="floor", destination=destination(warehouse),
                            dataset_name="raw_bland", pipelines_dir=str(folder / "dlt"))
    print(f"dlt + models alone, {n:,} calls in Arrow tables of {BATCH_ROWS:,} rows")
    steps: list[tuple[str, Callable[[], object]]] = [
        ("extract (incremental, parquet)", lambda: pipeline.extract(sip_calls())),
        ("normalize", pipeline.normalize), ("load into DuckDB", pipeline.load)]
    total = 0.0
    for label, step in steps:
        began = time.perf_counter()
        step()
        seconds = time.perf_counter() - began
        total += seconds
        print(f"  {label:34s} {seconds:7.2f} s")
    began = time.perf_counter()
    with connect(warehouse) as con:
        transform.build(con, all_raw_columns(), incremental=True)
    build = time.perf_counter() - began
    print(f"  {'model build (first)':34s} {build:7.2f} s")
    print(f"  {'all':34s} {total + build:7.2f} s = {n / (total + build):,.0f} calls/s "
          f"(dlt alone {n / total:,.0f} calls/s)")


if __name__ == "__main__":
    main()
