"""The dashboard's charts: each panel is the SQL that feeds it plus an Altair chart of its rows.

A panel's SQL is `sql/<name>.sql` beside this module (read against the contract's tables);
`chart` turns its rows into a Vega-Lite spec. Colours are fixed per provider and per status,
so the same provider or status looks the same in every chart.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import altair as alt

from sources import PROVIDERS

SQL = Path(__file__).resolve().parent / "sql"

Rows = list[dict[str, Any]]

PROVIDER_COLOURS = ["#4c78a8", "#f58518", "#72b7b2", "#b279a2", "#9d755d", "#bab0ac"]
# the contract's statuses, best outcome first, so a stacked bar reads left to right
STATUS_COLOURS = {
    "completed": "#54a24b",
    "voicemail": "#88d27a",
    "in_progress": "#72b7b2",
    "no_answer": "#eeca3b",
    "busy": "#f58518",
    "canceled": "#bab0ac",
    "failed": "#e45756",
    "unknown": "#79706e",
}


def provider_colour() -> alt.Color:
    """The provider encoding every chart shares: one fixed colour per provider."""
    slugs = list(PROVIDERS)
    return alt.Color("provider:N", title=None, legend=alt.Legend(orient="top"),
                     scale=alt.Scale(domain=slugs, range=PROVIDER_COLOURS[: len(slugs)]))


def styled(chart: alt.Chart) -> alt.Chart:
    """The page's look: the container's width, system fonts, quiet axes and grid."""
    font = "system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', sans-serif"
    return (
        chart.properties(width="container", height=240)
        .configure(font=font, background="transparent")
        .configure_view(stroke=None)
        .configure_axis(labelColor="#4b5563", titleColor="#4b5563", gridColor="#eef0f3",
                        domainColor="#d1d5db", tickColor="#d1d5db", labelFontSize=11,
                        titleFontSize=11, titleFontWeight="normal")
        .configure_legend(labelColor="#374151", labelFontSize=11, symbolType="square")
    )


def calls_per_day(rows: Rows) -> alt.Chart:
    day = "utcyearmonthdate(day):T"
    return alt.Chart(alt.Data(values=rows)).mark_bar().encode(
        x=alt.X(day, title=None, axis=alt.Axis(format="%b %d", labelAngle=0)),
        y=alt.Y("calls:Q", title="calls", stack="zero"),
        color=provider_colour(),
        tooltip=[alt.Tooltip(day, title="day", format="%Y-%m-%d"), alt.Tooltip("provider:N"),
                 alt.Tooltip("calls:Q", format=",")],
    )


def answer_rate_per_day(rows: Rows) -> alt.Chart:
    day = "utcyearmonthdate(day):T"
    return alt.Chart(alt.Data(values=rows)).mark_line(point=True, strokeWidth=2).encode(
        x=alt.X(day, title=None, axis=alt.Axis(format="%b %d", labelAngle=0, tickCount=6)),
        y=alt.Y("answer_rate:Q", title="answered", scale=alt.Scale(domain=[0, 1]),
                axis=alt.Axis(format=".0%")),
        color=provider_colour(),
        tooltip=[alt.Tooltip(day, title="day", format="%Y-%m-%d"), alt.Tooltip("provider:N"),
                 alt.Tooltip("answer_rate:Q", title="answer rate", format=".1%"),
                 alt.Tooltip("answered_calls:Q", title="answered", format=","),
                 alt.Tooltip("calls:Q", format=",")],
    )


def durations(rows: Rows) -> alt.Chart:
    buckets = [r["duration"] for r in sorted(rows, key=lambda r: r["bucket"])]
    return alt.Chart(alt.Data(values=rows)).mark_bar().encode(
        x=alt.X("duration:O", title="duration of answered calls",
                sort=list(dict.fromkeys(buckets)), axis=alt.Axis(labelAngle=0)),
        y=alt.Y("calls:Q", title="calls", stack="zero"),
        color=provider_colour(),
        tooltip=[alt.Tooltip("duration:O"), alt.Tooltip("provider:N"),
                 alt.Tooltip("calls:Q", format=",")],
    )


def status_mix(rows: Rows) -> alt.Chart:
    order = {status: i for i, status in enumerate(STATUS_COLOURS)}
    values = [{**r, "rank": order.get(r["status"], len(order))} for r in rows]
    present = [s for s in STATUS_COLOURS if any(r["status"] == s for r in rows)]
    others = sorted({r["status"] for r in rows} - set(STATUS_COLOURS))
    domain = present + others
    return alt.Chart(alt.Data(values=values)).mark_bar().encode(
        y=alt.Y("provider:N", title=None, sort=list(PROVIDERS)),
        x=alt.X("calls:Q", stack="normalize", title="share of calls",
                axis=alt.Axis(format=".0%")),
        color=alt.Color("status:N", title=None, sort=domain,
                        legend=alt.Legend(orient="top", columns=4),
                        scale=alt.Scale(domain=domain,
                                        range=[STATUS_COLOURS.get(s, "#79706e") for s in domain])),
        order=alt.Order("rank:Q"),
        tooltip=[alt.Tooltip("provider:N"), alt.Tooltip("status:N"),
                 alt.Tooltip("calls:Q", format=",")],
    )


def failed_sip_codes(rows: Rows) -> alt.Chart:
    codes = list(dict.fromkeys(r["sip_code"] for r in sorted(rows, key=lambda r: r["rank"])))
    return alt.Chart(alt.Data(values=rows)).mark_bar().encode(
        y=alt.Y("sip_code:N", title="SIP code", sort=codes),
        x=alt.X("calls:Q", title="failed calls", stack="zero"),
        color=provider_colour(),
        tooltip=[alt.Tooltip("sip_code:N", title="SIP code"), alt.Tooltip("provider:N"),
                 alt.Tooltip("calls:Q", format=",")],
    )


@dataclass(frozen=True)
class Panel:
    """One chart of the page: `sql/<name>.sql` and the chart drawn from its rows."""

    name: str
    title: str
    subtitle: str
    chart: Callable[[Rows], alt.Chart]
    empty: str  # said instead of the chart when the SQL returns no row
    wide: bool = False  # the whole width of the page

    def sql(self) -> str:
        """The SQL that feeds this panel."""
        return (SQL / f"{self.name}.sql").read_text()

    def spec(self, rows: Rows) -> dict[str, Any]:
        """The Vega-Lite spec of this panel's chart, its rows inline."""
        spec: dict[str, Any] = styled(self.chart(rows)).to_dict()
        return spec


PANELS: Sequence[Panel] = (
    Panel("calls_per_day", "Calls per day", "every call, by UTC day of its start",
          calls_per_day, "No calls.", wide=True),
    Panel("answer_rate_per_day", "Answer rate per day", "answered calls / calls, by UTC day",
          answer_rate_per_day, "No calls."),
    Panel("durations", "Duration distribution", "answered calls by how long they lasted",
          durations, "No answered calls."),
    Panel("status_mix", "Status mix", "share of each provider's calls by status",
          status_mix, "No calls."),
    Panel("failed_sip_codes", "Top SIP codes of failed calls",
          "the ten most frequent final SIP codes of calls with status failed",
          failed_sip_codes, "No failed calls."),
)
