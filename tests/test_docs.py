"""What users rely on is documented inside the repository, and the docs match the code.

Every table and column the models build is in `docs/tables.md`, every configuration key
in `docs/configuration.md`; no file sends the reader outside the repository; every
relative link and anchor in the Markdown resolves.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import duckdb
import pytest

from pipelines.transform import build
from sources import PROVIDERS, all_raw_columns
from tests.conftest import PROJECT

DOCS = PROJECT / "docs"
SKIP = {".venv", "data", ".git", ".mypy_cache", ".ruff_cache", ".pytest_cache", "dist"}
# set by callsync, not by users
INTERNAL_ARGUMENTS = {"backfill", "retry", "meter", "clock", "unfinished"}
HTTP_KEYS = ["requests_per_second", "max_attempts", "timeout_seconds", "max_response_bytes"]


def project_files(*suffixes: str) -> list[Path]:
    return [p for p in PROJECT.rglob("*") if p.is_file() and p.suffix in suffixes
            and not SKIP & set(p.relative_to(PROJECT).parts)]


def test_no_file_sends_the_reader_outside_the_repository() -> None:
    outside = re.compile("|".join(re.escape(s) for s in (
        "../" + "shared", "REFERENCE" + ".md", "REFERENCE" + " ", "warehouse" + "-contract",
        "seeds" + "/")))
    found = [f"{p.relative_to(PROJECT)}:{n}"
             for p in project_files(".py", ".md", ".toml", ".sql", ".yml", ".cfg")
             for n, line in enumerate(p.read_text().splitlines(), 1) if outside.search(line)]
    assert not found


def slug(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    return {slug(line.lstrip("#")) for line in path.read_text().splitlines()
            if line.startswith("#")}


MARKDOWN = sorted([PROJECT / "README.md", PROJECT / "deploy" / "README.md",
                   *DOCS.glob("*.md"), *(PROJECT / "sources").glob("*/README.md")])


@pytest.mark.parametrize("page", MARKDOWN, ids=lambda p: str(p.relative_to(PROJECT)))
def test_every_relative_link_and_anchor_resolves(page: Path) -> None:
    for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        assert linked.exists(), f"{page.name}: {target}"
        if anchor:
            assert anchor in anchors(linked), f"{page.name}: {target}"


def test_docs_exist_and_the_readme_links_each() -> None:
    readme = (PROJECT / "README.md").read_text()
    for name in ("configuration", "commands", "tables", "guarantees", "operating"):
        assert (DOCS / f"{name}.md").is_file()
        assert f"(docs/{name}.md)" in readme


def sections(text: str) -> dict[str, str]:
    """`## \\`name\\`` heading -> the text under it."""
    parts = re.split(r"^## `(\w+)`.*$", text, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_every_table_and_column_the_models_build_is_in_tables_md(tmp_path: Path) -> None:
    with duckdb.connect(str(tmp_path / "empty.duckdb")) as con:
        build(con, all_raw_columns(), incremental=False)
        columns = con.execute(
            "select table_name, list(column_name order by column_index) from duckdb_columns() "
            "where database_name = current_database() and schema_name = 'main' "
            "group by table_name").fetchall()
    assert {"calls", "calls_daily", "sip_configs", "active_calls", "calls_rejected"} <= {
        table for table, _ in columns}
    documented = sections((DOCS / "tables.md").read_text())
    for table, names in columns:
        assert table in documented, f"docs/tables.md has no section for {table}"
        missing = [c for c in names if f"`{c}`" not in documented[table]]
        assert not missing, f"{table}: {missing}"


def test_every_configuration_key_is_in_configuration_md() -> None:
    text = (DOCS / "configuration.md").read_text()
    keys = {k for p in PROVIDERS.values() for k in inspect.signature(p.source).parameters}
    keys = (keys - INTERNAL_ARGUMENTS) | set(HTTP_KEYS)
    code = "\n".join(p.read_text() for p in (PROJECT / "pipelines").glob("*.py"))
    run_keys = set(re.findall(r"config(?:\.get\(|\[)\s*f?[\"']callsync\.(\w+)", code))
    assert "memory_limit" in run_keys
    missing = [k for k in sorted(keys | run_keys) if f"`{k}`" not in text]
    assert not missing
    for key in run_keys:
        assert f"CALLSYNC__{key.upper()}" in text
