"""The transform layer itself: named variables only, one union of the staging views of
calls with the contract's columns, and the build refusing a branch that does not match."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from pipelines import transform
from sources.sipsim.client import calls_table
from tests.transforms.helpers import build, connect, load_raw, rows

# `calls` in the contract's order (section 3), then what staging adds for the marts
CONTRACT_CALLS = [
    ("call_key", "VARCHAR"), ("provider", "VARCHAR"), ("call_id", "VARCHAR"),
    ("account_id", "VARCHAR"), ("direction", "VARCHAR"), ("status", "VARCHAR"),
    ("answered", "BOOLEAN"), ("started_at", "TIMESTAMP WITH TIME ZONE"),
    ("answered_at", "TIMESTAMP WITH TIME ZONE"), ("ended_at", "TIMESTAMP WITH TIME ZONE"),
    ("duration_seconds", "INTEGER"), ("wait_seconds", "INTEGER"),
    ("from_number", "VARCHAR"), ("to_number", "VARCHAR"), ("sip_code", "INTEGER"),
    ("provider_status", "VARCHAR"), ("end_reason", "VARCHAR"), ("recording_url", "VARCHAR"),
    ("synced_at", "TIMESTAMP WITH TIME ZONE"),
]
STAGING_EXTRA = [("reject_reason", "VARCHAR"), ("record_key", "VARCHAR"),
                 ("raw_table", "VARCHAR"), ("record", "VARCHAR")]
CALLS_VIEWS = transform.staging_inputs(transform.model_sql("staging", "stg_calls"))
README = transform.TRANSFORMS / "README.md"


def columns(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in con.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = ? and table_name = ? order by ordinal_position",
        [schema, name]).fetchall()]


@pytest.fixture
def con(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = connect(tmp_path / "w.duckdb")
    yield connection
    connection.close()


@pytest.fixture
def empty(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """A warehouse built before any sync: every raw table an empty stand-in."""
    build(con)
    return con


def test_stg_calls_unions_every_providers_staging_view() -> None:
    assert sorted(CALLS_VIEWS) == ["stg_bland__sip_calls", "stg_jambonz__recent_calls",
                                   "stg_sipsim__calls", "stg_unpod__call_logs"]


@pytest.mark.parametrize("view", [*CALLS_VIEWS, "stg_calls"])
def test_each_staging_view_of_calls_has_the_contracts_columns_in_order(
        empty: duckdb.DuckDBPyConnection, view: str) -> None:
    assert columns(empty, "staging", view) == CONTRACT_CALLS + STAGING_EXTRA


def test_calls_has_the_contracts_columns_in_order(empty: duckdb.DuckDBPyConnection) -> None:
    assert columns(empty, "main", "calls") == CONTRACT_CALLS


def test_a_misspelled_column_in_one_branch_fails_the_build(
        con: duckdb.DuckDBPyConnection, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    copy = tmp_path / "transforms"
    shutil.copytree(transform.TRANSFORMS, copy)
    view = copy / "staging" / "stg_unpod__call_logs.sql"
    sql = view.read_text()
    assert "as recording_url," in sql
    view.write_text(sql.replace("as recording_url,", "as recordng_url,"))
    monkeypatch.setattr(transform, "TRANSFORMS", copy)
    with pytest.raises(transform.TemplateError, match="stg_unpod__call_logs.*recordng_url"):
        build(con)
    assert not transform.table_exists(con, "main", "calls")


def test_an_unknown_variable_is_refused_by_name(con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(transform.TemplateError, match=r"\{\{ raw_calls \}\}"):
        transform.render("select * from {{ raw_calls }}", transform.Context(con, {}))


def test_every_variable_the_models_use_is_listed_in_the_readme() -> None:
    readme = README.read_text()
    used = {re.sub(r"raw_\w+\.\w+", "raw_<slug>.<table>",
                   re.sub(r"(staging|base_url)\.\w+", lambda m: {
                       "staging": "staging.<view>", "base_url": "base_url.<slug>"}[m[1]],
                          ".".join(filter(None, m.groups()))))
            for path in transform.TRANSFORMS.rglob("*.sql")
            for m in transform.VARIABLE.finditer(path.read_text())}
    assert used == set(transform.VARIABLES)
    for variable in transform.VARIABLES:
        assert f"{{{{ {variable} }}}}" in readme, variable


def sipsim_call(call_id: str, link: str | None) -> dict[str, Any]:
    return {"id": call_id, "call_type": "inbound", "sip_status": "answer", "answered": True,
            "caller_number": "+33612345678", "target_number": "+33698765432",
            "start_time": "2026-03-09T11:00:00Z", "end_time": "2026-03-09T11:02:00Z",
            "duration_sec": 120, "play_record_link": link}


def recording_urls(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    return {r["call_id"]: r["recording_url"]
            for r in rows(con, "select call_id, recording_url from calls")}


SIPSIM_LINKS = [
    ("absolute", "https://cdn.example.com/r/1.mp3", "https://cdn.example.com/r/1.mp3"),
    ("relative", "/records/2.mp3", "http://127.0.0.1:9/api/v2/records/2.mp3"),
    ("relative-no-slash", "records/3.mp3", "http://127.0.0.1:9/api/v2/records/3.mp3"),
    ("empty", "", None),
    ("missing", None, None),
]


def test_sipsim_recording_links_resolve_against_the_configured_base_url(
        con: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCES__SIPSIM__BASE_URL", "http://127.0.0.1:9/api/v2/")
    load_raw(con, "raw_sipsim.calls",
             calls_table([sipsim_call(name, link) for name, link, _ in SIPSIM_LINKS]))
    build(con)
    assert recording_urls(con) == {name: expected for name, _, expected in SIPSIM_LINKS}


def test_sipsim_recording_links_default_to_the_sources_api_root(
        con: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOURCES__SIPSIM__BASE_URL", raising=False)
    load_raw(con, "raw_sipsim.calls", calls_table([sipsim_call("r", "records/r.mp3")]))
    build(con)
    assert recording_urls(con) == {"r": "https://app.sipsim.com/api/v2/records/r.mp3"}


def test_incremental_build_resolves_links_of_new_rows_too(
        con: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCES__SIPSIM__BASE_URL", "http://127.0.0.1:9/api/v2")
    load_raw(con, "raw_sipsim.calls", calls_table([sipsim_call("a", None)]))
    build(con)
    later = calls_table([sipsim_call("a", "/records/a.mp3")])
    con.register("_later", later)
    con.execute("insert into raw_sipsim.calls by name select * exclude (fetched_at), "
                "fetched_at + interval 1 minute as fetched_at from _later")
    con.unregister("_later")
    report = build(con, incremental=True)
    assert report.updated == {"sipsim": 1}
    assert recording_urls(con) == {"a": "http://127.0.0.1:9/api/v2/records/a.mp3"}
