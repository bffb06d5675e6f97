"""Model build at scale: a full build of N raw calls, then an incremental build after a
small sync (1,000 new calls and 100 changed), on one DuckDB file.

    python -m bench.model_build --calls 10000000

Raw rows are generated in DuckDB (not fetched): this isolates the SQL models' cost.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from pipelines import checks, transform
from pipelines.warehouse import connect
from sources import all_raw_columns

RAW = """
insert into raw_bland.sip_calls
select
    cast(cast(md5(cast(i as varchar)) as uuid) as varchar) as call_id,
    timestamptz '2026-01-01 00:00:00+00' + to_seconds(i * 3) as started_at,
    '+1415000000' || (i % 10) as account_id,
    json_object(
        'call_id', cast(cast(md5(cast(i as varchar)) as uuid) as varchar),
        'direction', case when i % 2 = 0 then 'inbound' else 'outbound' end,
        'from', '+1415555' || lpad(cast(i % 10000 as varchar), 4, '0'),
        'to', '+1415000000' || (i % 10),
        'status', case i % 5 when 0 then '486 Busy' else '200 OK' end,
        'sip_code', case i % 5 when 0 then 486 else 200 end,
        'duration_seconds', i % 600,
        'started_at', strftime(timestamptz '2026-01-01 00:00:00+00' + to_seconds(i * 3),
                               '%Y-%m-%dT%H:%M:%SZ'),
        'ended_at', strftime(timestamptz '2026-01-01 00:10:00+00' + to_seconds(i * 3),
                             '%Y-%m-%dT%H:%M:%SZ'),
        'source_ip', '35.80.235.26'
    )::varchar as record,
    ? as fetched_at,
from range(?, ?) t(i)
"""


def timed(label: str, fn: object) -> float:
    began = time.perf_counter()
    fn()  # type: ignore[operator]
    seconds = time.perf_counter() - began
    print(f"  {label:48s} {seconds:8.2f} s")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.model_build")
    parser.add_argument("--calls", type=int, default=1_000_000)
    args = parser.parse_args()
    n = args.calls
    path = Path(tempfile.mkdtemp(prefix="callsync-bench-")) / "calls.duckdb"
    con = connect(path)  # the product's memory settings
    con.execute("set TimeZone = 'UTC'")
    con.execute("create schema raw_bland")
    columns = all_raw_columns()["raw_bland.sip_calls"]
    con.execute(f"create table raw_bland.sip_calls as select {columns} where false")
    print(f"model build, {n:,} Bland raw calls ({path})")
    timed("generate raw rows", lambda: con.execute(
        RAW, ["2026-06-01 00:00:00+00", 0, n]))
    timed("full build (callsync transform)", lambda: transform.build(
        con, all_raw_columns(), incremental=False))
    # a small sync: 1,000 new calls and 100 re-read ones that changed
    con.execute(RAW, ["2026-06-02 00:00:00+00", n, n + 1000])
    con.execute(RAW.replace("'200 OK'", "'487 Cancelled'").replace("else 200", "else 487"),
                ["2026-06-02 00:00:00+00", n - 100, n])
    report = transform.BuildReport()
    timed("incremental build after 1,000 new + 100 changed",
          lambda: report.__dict__.update(transform.build(
              con, all_raw_columns(), incremental=True).__dict__))
    print(f"  new {report.new}, updated {report.updated}")
    # the data-quality rules run inside every build (above); alone, to show their share
    timed("of which: the checks alone (call_checks)", lambda: checks.run(con))
    rows = con.execute("select count(*) from calls").fetchone()
    print(f"  calls rows: {rows[0] if rows else 0:,}")
    con.close()


if __name__ == "__main__":
    main()
