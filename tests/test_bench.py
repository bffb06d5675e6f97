"""`make bench`'s table code runs end to end on tiny sizes and prints every row.

The figures themselves are the benchmark's business (`bench/README.md`); here only that
each row of issue 14's table, the limit and where the time goes come out, each row with
its target and a verdict, for SIPSIM alone and for all four providers.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import PROJECT

# (all four at 1,000 calls: 166 per partition, 995 distinct)
ROWS = ("first backfill, whole command |", "peak RSS, process tree |", "no-op sync |",
        "vs dlt `rest_api` defaults at ")


def test_the_table_prints_every_row_beside_its_target(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.table", "--calls", "2000", "--small", "1000",
         "--runs", "1", "--baseline-calls", "1000", "--latency", "0.05",
         "--latency-calls", "600", "--floor-calls", "2000"],
        cwd=PROJECT, capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    scopes = re.split(r"^### ", out, flags=re.M)[1:]
    assert [s.split(":")[0] for s in scopes] == ["SIPSIM alone", "all four providers"]
    for scope in scopes:
        for name in ROWS:
            found = [x for x in scope.splitlines() if x.startswith(f"| {name}")]
            assert len(found) == 1, (name, out)
            line = found[0]
            cells = [c.strip() for c in line.strip("|").split("|")]
            assert len(cells) == 4 and cells[1] and cells[2], line
            assert cells[3] in ("met", "**not met**"), line
        assert re.search(r"peak RSS.*\(\d+ at [\d,]+: [0-9.]+x\)", scope)
        assert re.search(r"The limit, [\d,]+ calls: the fake drained .* calls/s; every page "
                         r"fetched .* calls/s", scope)
        assert "Where the time goes" in scope
        assert re.search(r"Then the model build: [0-9.]+ s; the rest .*: [0-9.]+ s\.", scope)
        assert "| sipsim |" in scope
        assert "The profile, one more backfill" in scope
        # (at 2,000 calls the page parser may run between two samples: main always shows)
        assert re.search(r"\| main \(start-up, model build, readers' copy\) \| [0-9.]+ \|",
                         scope), scope
        assert re.search(r"\| main \(start-up, model build, readers' copy\) \| `.+` \| "
                         r"[0-9.]+ \| \d+% \|", scope), scope
    latency = [x for x in scopes[1].splitlines() if x.startswith("| all four providers, ")]
    assert len(latency) == 1 and "x the slowest alone" in latency[0]
    assert "| all four providers, " not in scopes[0]
    assert all(f"| {slug} |" in scopes[1] for slug in ("bland", "unpod", "jambonz"))
    assert re.search(r"The floor, .*: all +[0-9.]+ s = [\d,]+ calls/s", out)


def test_the_profile_charges_samples_to_roles_and_our_innermost_frame() -> None:
    from bench.profile import samples

    raw = "\n".join([
        "thread (1): walk_0;get_page (sources/_http.py:210);read (httpcore/x.py:5) 30",
        "thread (2): page-parser_1;_worker (concurrent/futures/thread.py:83);"
        "_run (sources/_native.py:250);_execute (sources/_native.py:204) 70",
        "thread (2): page-parser_1;_worker (concurrent/futures/thread.py:81) 500",  # idle
        "thread (1): walk_0;get_page (sources/_http.py:210);Condition.wait (threading.py:327) 8",
        "thread (1): walk_0;get_page (sources/_http.py:210);"
        "SyncStream.read (httpcore/_backends/sync.py:128) 5",
        "thread (3): MainThread;main (pipelines/cli.py:3);_find_and_load (<frozen>:1) 9",
        "thread (4): odd-thread;f (lib.py:1) 1",
    ])
    roles, frames = samples(raw)
    assert roles == {"page fetch (HTTP)": 30, "page parser (DuckDB, off the GIL)": 70,
                     "main (start-up, model build, readers' copy)": 9, "odd-thread": 1}
    assert frames[("page fetch (HTTP)", "get_page (sources/_http.py)")] == 30
    assert frames[("page parser (DuckDB, off the GIL)", "_execute (sources/_native.py)")] == 70
    assert frames[("main (start-up, model build, readers' copy)", "(imports)")] == 9
