"""`callsync report`: the dashboard, one self-contained HTML file.

Each panel is the SQL that feeds it (`sql/<panel>.sql`, over the contract's tables) plus an
Altair chart of its rows (`panels.py`); `page.html` assembles them with a totals table and
each provider's freshness. Vega, Vega-Lite and vega-embed are inlined from vl-convert's
bundle and the data sits in each spec, so the file opens with no network and no server.
The report reads the readers' copy (`published/<name>.duckdb`) where there is one, so it
runs while a sync writes; else the warehouse, read-only.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
import pendulum
import vl_convert
from altair.utils._importers import vl_version_for_vl_convert
from markupsafe import Markup

from pipelines.report import freshness as freshness_mod
from pipelines.report.panels import PANELS, PROVIDER_COLOURS, SQL
from pipelines.report.source import ReportError, open_source, rows
from sources import PROVIDERS

__all__ = ["ReportError", "default_out", "write"]

TEMPLATE = Path(__file__).resolve().parent / "page.html"


def default_out(warehouse: Path) -> Path:
    """Where the report goes by default: beside the warehouse, `<name>-report.html`."""
    return warehouse.parent / f"{warehouse.stem}-report.html"


def write(warehouse: Path, out: Path | None = None) -> Path:
    """Write the dashboard of `warehouse` to `out` (default `default_out(warehouse)`).

    The file is written beside `out` and renamed over it, so a browser never loads half.

    Returns:
        The path written.

    Raises:
        ReportError: no warehouse or no calls yet, the file is locked, or `out` is unwritable.
    """
    out = out or default_out(warehouse)
    html = render(warehouse)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")  # beside it: the rename is atomic
        try:
            tmp.write_text(html, encoding="utf-8")
            os.replace(tmp, out)
        finally:
            tmp.unlink(missing_ok=True)
    except OSError as exc:
        raise ReportError(f"cannot write the report to {out}: {exc.strerror or exc}: "
                          "choose another --out") from None
    return out


def render(warehouse: Path) -> str:
    """The dashboard of `warehouse` as one HTML document."""
    now = pendulum.now("UTC")
    with open_source(warehouse) as (source, con):
        totals = rows(con, (SQL / "totals.sql").read_text())
        period = rows(con, "select min(started_at) as first, max(started_at) as last from calls")
        fresh = freshness_mod.read(con)
        show_runs = any(f.last_run_status for f in fresh)
        panels = []
        for panel in PANELS:
            data = [jsonable(r) for r in rows(con, panel.sql())]
            spec = script_json(panel.spec(data)) if data else None
            panels.append({"name": panel.name, "title": panel.title, "subtitle": panel.subtitle,
                           "empty": panel.empty, "wide": panel.wide, "spec": spec})
    everyone = next(r for r in totals if r["all_providers"])
    first, last = period[0]["first"], period[0]["last"]
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    page = env.from_string(TEMPLATE.read_text())
    return page.render(
        name=warehouse.name,
        generated=now.format("YYYY-MM-DD HH:mm [UTC]"),
        period=f"calls from {first:%Y-%m-%d} to {last:%Y-%m-%d}",
        source=str(source),
        kpis=[("calls", f"{everyone['calls']:,}"), ("answered", f"{everyone['answered_calls']:,}"),
              ("answer rate", rate(everyone["answer_rate"])),
              ("total minutes", minutes(everyone["total_minutes"]))],
        totals=[total_row(r) for r in sorted(totals, key=lambda r: (
            r["all_providers"], rank(r["provider"]), r["provider"] or ""))],
        freshness=[freshness_row(f, now) for f in fresh],
        show_runs=show_runs,
        freshness_note=("last successful sync from the run history (sync_runs), else dlt's "
                        "load log; newest call: the latest started_at in calls"),
        panels=panels,
        vegalite_version=vl_version_for_vl_convert().lstrip("v").replace("_", "."),
        vega_bundle=Markup(vl_convert.javascript_bundle(
            "window.vegaEmbed = vegaEmbed;", vl_version_for_vl_convert())),
    )


def rank(provider: str | None) -> int:
    """Where `provider` comes in the page's tables: the order of `PROVIDERS`."""
    slugs = list(PROVIDERS)
    return slugs.index(provider) if provider in slugs else len(slugs)


def colour(provider: str | None) -> str | None:
    """The provider's colour in every chart, for the tables' swatches."""
    slugs = list(PROVIDERS)
    return PROVIDER_COLOURS[slugs.index(provider)] if provider in slugs else None


def rate(value: float | None) -> str:
    """An answer rate as the page shows it: `63.2%`."""
    return "-" if value is None else f"{value:.1%}"


def minutes(value: float | None) -> str:
    """Minutes as the page shows them: `1,234.5`."""
    return "-" if value is None else f"{value:,.1f}"


def total_row(row: dict[str, Any]) -> dict[str, Any]:
    everyone = bool(row["all_providers"])
    return {"key": "all" if everyone else row["provider"], "all": everyone,
            "provider": "all providers" if everyone else row["provider"],
            "colour": None if everyone else colour(row["provider"]),
            "calls": f"{row['calls']:,}", "answered_calls": f"{row['answered_calls']:,}",
            "answer_rate": rate(row["answer_rate"]), "total_minutes": minutes(row["total_minutes"])}


def when(value: datetime | None, now: pendulum.DateTime) -> tuple[str, str, str]:
    """An instant as the page shows it: (`2026-11-01 12:00 UTC`, `3 hours ago`, ISO)."""
    if value is None:
        return "never", "", ""
    at = pendulum.instance(value).in_tz("UTC")
    age = at.diff_for_humans(now, absolute=True)
    return (at.format("YYYY-MM-DD HH:mm [UTC]"), f"{age} {'ago' if at <= now else 'ahead'}",
            at.isoformat())


def freshness_row(fresh: freshness_mod.Freshness, now: pendulum.DateTime) -> dict[str, Any]:
    success, success_age, success_iso = when(fresh.last_success_at, now)
    newest, newest_age, newest_iso = when(fresh.newest_call_at, now)
    return {"provider": fresh.provider, "colour": colour(fresh.provider),
            "last_success": success, "last_success_age": success_age,
            "last_success_iso": success_iso, "newest_call": newest,
            "newest_call_age": newest_age, "newest_call_iso": newest_iso,
            "last_run_status": fresh.last_run_status, "last_error": fresh.last_error}


def jsonable(row: dict[str, Any]) -> dict[str, Any]:
    """A row whose dates and times are ISO strings (Vega parses them as UTC)."""
    return {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in row.items()}


def script_json(spec: dict[str, Any]) -> Markup:
    """`spec` as JSON safe inside a <script> element (no `<` can close it)."""
    return Markup(json.dumps(spec, separators=(",", ":")).replace("<", "\\u003c"))
