"""`callsync report`: the dashboard, rendered by a real browser with the network cut."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import duckdb
import pytest
from PIL import Image

from pipelines import sync as sync_mod
from pipelines.report.panels import PANELS, PROVIDER_COLOURS, STATUS_COLOURS
from simulator import build
from tests.cli.helpers import callsync, callsync_here
from tests.conftest import NOW, query
from tests.report import browser

PANEL_NAMES = [panel.name for panel in PANELS]


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse synced once from every simulated provider (copied by each test)."""
    path = tmp_path_factory.mktemp("synced") / "calls.duckdb"
    with build(seed=7, size=200, now=NOW) as sim:
        overrides = {slug: p.config(sim.url) for slug, p in sim.providers.items()}
        result = sync_mod.run(path, list(sim.providers), overrides=overrides)
    assert result.ok, [p.error for p in result.providers]
    return path


@pytest.fixture
def warehouse(synced: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "data" / "calls.duckdb"
    path.parent.mkdir()
    shutil.copy(synced, path)
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(path))
    return path


def cells(html: str, table: str) -> dict[str, list[str]]:
    """The text of each row of `<table id=table>`, by the row's data-provider."""
    body = re.search(rf'<table id="{table}">(.*?)</table>', html, re.S)
    assert body, f"no table {table}"
    found = {}
    for key, row in re.findall(r'<tr data-provider="([^"]+)"[^>]*>(.*?)</tr>', body.group(1),
                               re.S):
        found[key] = [" ".join(re.sub(r"<[^>]+>", " ", cell).split())
                      for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
    return found


def times(html: str, table: str) -> dict[str, list[datetime | None]]:
    """The instants (`<time data-iso>`) of each row of `<table id=table>`."""
    body = re.search(rf'<table id="{table}">(.*?)</table>', html, re.S)
    assert body
    return {key: [datetime.fromisoformat(iso) if iso else None
                  for iso in re.findall(r'<time data-iso="([^"]*)"', row)]
            for key, row in re.findall(r'<tr data-provider="([^"]+)"[^>]*>(.*?)</tr>',
                                       body.group(1), re.S)}


def expected_totals(path: Path) -> dict[str, list[str]]:
    """The totals table as the SQL over `calls` says it should read."""
    sql = """select coalesce(provider, 'all'), count(*), count(*) filter (where answered),
                    sum(duration_seconds) from calls group by rollup (provider)"""
    return {key: [key if key != "all" else "all providers", f"{n:,}", f"{answered:,}",
                  f"{answered / n:.1%}", f"{seconds / 60:,.1f}"]
            for key, n, answered, seconds in query(path, sql)}


def drawn_panels(dom: str) -> dict[str, int]:
    """Per panel, how many marks (SVG paths with a shape) its chart drew."""
    found = {}
    for figure in re.findall(r"<figure\b.*?</figure>", dom, re.S):
        name = re.search(r'id="panel-(\w+)"', figure)
        assert name
        marks = re.findall(r'<g class="mark-\w+ role-mark[^"]*"[^>]*>(.*?)</g>', figure, re.S)
        found[name.group(1)] = sum(len(re.findall(r'<path[^>]*\sd="M', m)) for m in marks)
    return found


def colour_pixels(png: Path) -> dict[tuple[int, int, int], int]:
    with Image.open(png) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1 << 24)
    assert colours
    return {rgb: count for count, rgb in colours}


def rgb(hex_colour: str) -> tuple[int, int, int]:
    return (int(hex_colour[1:3], 16), int(hex_colour[3:5], 16), int(hex_colour[5:7], 16))


def test_the_report_draws_every_chart_offline_with_the_sql_totals(
    warehouse: Path, isolated: Path
) -> None:
    with duckdb.connect(str(warehouse)) as con:  # freshness as a warehouse older than it reads
        con.execute("drop table if exists sync_runs")
    run = callsync("report", cwd=isolated)  # the real command, as a process
    assert run.code == 0, run.err
    page = warehouse.parent / "calls-report.html"
    assert run.out.strip().splitlines()[-1].endswith(str(page.relative_to(isolated)))
    html = page.read_text()
    # nothing to fetch: no script, style, font or image comes from elsewhere
    assert not re.findall(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", html)
    assert not re.findall(r"url\(\s*['\"]?(?:https?:)?//", html)

    with browser.proxy() as cut:
        dom = browser.run(page.as_uri(), isolated / "profile", cut.server_address[1],
                          "--dump-dom")
        shot = isolated / "report.png"
        browser.run(page.as_uri(), isolated / "profile2", cut.server_address[1],
                    f"--screenshot={shot}")
        assert cut.requests == []  # the page asked the network for nothing
        # the same browser and proxy do see a page that fetches (the cut is real)
        fetching = isolated / "fetching.html"
        fetching.write_text('<img src="http://report.example/x.png">')
        browser.run(fetching.as_uri(), isolated / "profile3", cut.server_address[1],
                    "--dump-dom")
        assert cut.requests and "report.example" in cut.requests[0]

    drawn = drawn_panels(dom)
    assert list(drawn) == PANEL_NAMES
    assert all(count > 0 for count in drawn.values()), drawn
    assert "data-error=" not in dom

    totals = cells(dom, "totals")
    assert totals == expected_totals(warehouse)
    assert list(totals) == ["bland", "sipsim", "unpod", "jambonz", "all"]

    # freshness without sync_runs: dlt's load log, and the newest call in `calls`
    fresh = times(dom, "freshness")
    for slug, (last_success, newest_call) in fresh.items():
        loads = query(warehouse, f"select max(inserted_at) from raw_{slug}._dlt_loads "
                                 "where status = 0")[0][0]
        newest = query(warehouse, "select max(started_at) from calls where provider = ?",
                       [slug])[0][0]
        assert (last_success, newest_call) == (loads, newest), slug
    assert list(fresh) == ["bland", "sipsim", "unpod", "jambonz"]

    pixels = colour_pixels(shot)
    assert len(pixels) > 200  # text, lines and bars, not a blank page
    assert pixels.get(rgb(PROVIDER_COLOURS[0]), 0) > 2000  # bland's bars were painted
    assert pixels.get(rgb(STATUS_COLOURS["completed"]), 0) > 500  # and the status mix


def test_freshness_comes_from_the_run_history_where_there_is_one(
    warehouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with duckdb.connect(str(warehouse)) as con:
        con.execute("drop table if exists sync_runs")
        # the columns the dashboard reads (contract section 5), two runs of two providers
        con.execute("create table sync_runs (run_id varchar, provider varchar, "
                    "started_at timestamptz, finished_at timestamptz, status varchar, "
                    "error varchar)")
        con.executemany("insert into sync_runs values (?, ?, ?::timestamptz, ?::timestamptz, "
                        "?, ?)", [
            ("r1", "bland", "2026-11-01 10:00:00+00", "2026-11-01 10:01:00+00", "ok", None),
            ("r2", "bland", "2026-11-01 11:00:00+00", "2026-11-01 11:02:00+00", "failed",
             "bland: HTTP 401 from /v1/calls: check api_key"),
            ("r1", "unpod", "2026-11-01 10:00:00+00", "2026-11-01 10:03:00+00", "ok", None),
            ("r2", "unpod", "2026-11-01 11:00:00+00", "2026-11-01 11:04:00+00", "ok", None),
            ("r2", "jambonz", "2026-11-01 11:00:00+00", "2026-11-01 11:05:00+00", "failed",
             "jambonz: HTTP 502 <b>bad</b> gateway </script>"),
        ])
    out = warehouse.parent / "report.html"
    run = callsync_here("report", "--out", str(out), capsys=capsys)
    assert run.code == 0, run.err
    html = out.read_text()
    fresh = times(html, "freshness")
    # the run history wins over dlt's (later) loads; its last ok run, not its failed one
    assert fresh["bland"][0] == datetime.fromisoformat("2026-11-01T10:01:00+00:00")
    assert fresh["unpod"][0] == datetime.fromisoformat("2026-11-01T11:04:00+00:00")
    # no recorded run (a warehouse older than its run history): dlt's load log
    assert fresh["sipsim"][0] == query(warehouse, "select max(inserted_at) from "
                                       "raw_sipsim._dlt_loads where status = 0")[0][0]
    rows = cells(html, "freshness")
    assert rows["bland"][-1] == "failed bland: HTTP 401 from /v1/calls: check api_key"
    assert rows["unpod"][-1] == "ok" and rows["sipsim"][-1] == "-"
    # an error is text, never markup
    assert "<b>bad</b>" not in html and "gateway </script>" not in html
    assert rows["jambonz"][-1] == ("failed jambonz: HTTP 502 &lt;b&gt;bad&lt;/b&gt; gateway "
                                   "&lt;/script&gt;")


def test_the_report_reads_the_readers_copy_while_a_writer_holds_the_warehouse(
    warehouse: Path, isolated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    published = warehouse.parent / "published" / "calls.duckdb"
    published.parent.mkdir()
    shutil.copy(warehouse, published)
    with duckdb.connect(str(published)) as con:  # the copy differs: no bland calls
        con.execute("delete from calls where provider = 'bland'")
        con.execute("delete from calls_daily where provider = 'bland'")
    # another process writes the warehouse (as a sync does): it holds DuckDB's file lock
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys; con = duckdb.connect(sys.argv[1]); "
         "print('holding', flush=True); sys.stdin.read()", str(warehouse)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout and holder.stdout.readline().strip() == "holding"
        run = callsync_here("report", capsys=capsys)
        assert run.code == 0, run.err
        html = (warehouse.parent / "calls-report.html").read_text()
        assert str(published) in html
        assert set(cells(html, "totals")) == {"sipsim", "unpod", "jambonz", "all"}

        shutil.rmtree(published.parent)  # no readers' copy: the warehouse, which is locked
        run = callsync_here("report", capsys=capsys)
        assert run.code == 2
        assert run.err.strip() == (f"error: {warehouse} is being written by another process "
                                   "(a sync?): run `callsync report` again when it ends, or "
                                   "let sync publish a readers' copy")
    finally:
        assert holder.stdin
        holder.stdin.close()
        holder.wait(timeout=30)


def test_demo_ends_with_its_report(isolated: Path) -> None:
    run = callsync("demo", "--size", "30", cwd=isolated)
    assert run.code == 0, run.err
    last = run.out.strip().splitlines()[-1]
    assert last.startswith("report written") and last.endswith("data/demo-report.html")
    html = (isolated / "data" / "demo-report.html").read_text()
    assert html.count('class="vega-spec"') == len(PANELS)


@pytest.fixture
def empty_warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "data" / "calls.duckdb"
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(path))
    return path


def test_a_missing_or_empty_warehouse_says_to_sync_first(
    empty_warehouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = callsync_here("report", capsys=capsys)
    assert missing.code == 2
    assert missing.err == (f"error: no warehouse at {empty_warehouse}: run `callsync sync` "
                           "to create it, or point at another file with --warehouse PATH\n")

    empty_warehouse.parent.mkdir()
    duckdb.connect(str(empty_warehouse)).close()  # a DuckDB file without tables
    no_tables = callsync_here("report", capsys=capsys)
    assert no_tables.code == 2
    assert no_tables.err == (f"error: {empty_warehouse} holds no calls yet: "
                             "run `callsync sync` first\n")

    assert callsync_here("transform", capsys=capsys).code == 0  # the models, with no call
    no_calls = callsync_here("report", capsys=capsys)
    # transform wrote the readers' copy, which the report reads and names
    published = empty_warehouse.parent / "published" / empty_warehouse.name
    assert (no_calls.code, no_calls.err) == (
        2, f"error: {published} holds no calls yet: run `callsync sync` first\n")
    assert not (empty_warehouse.parent / "calls-report.html").exists()


@pytest.mark.parametrize("where", ["under_a_file", "a_directory"])
def test_an_unwritable_out_is_one_line(
    warehouse: Path, isolated: Path, where: str
) -> None:
    (isolated / "a_file").write_text("")
    (isolated / "a_directory").mkdir()
    out = isolated / "a_file" / "report.html" if where == "under_a_file" else isolated / where
    run = callsync("report", "--out", str(out), cwd=isolated)
    assert run.code == 2
    assert run.err.startswith(f"error: cannot write the report to {out}: ")
    assert run.err.rstrip().endswith("choose another --out") and run.err.count("\n") == 1
    assert "Traceback" not in run.err + run.out
    assert (isolated / "a_directory").is_dir() and not list((isolated / "a_directory").iterdir())
