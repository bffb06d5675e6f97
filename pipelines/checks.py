"""Data-quality rules over `calls`, written into the table `call_checks`.

One rule per file in `transforms/checks/`: the file name is the rule's name, its header
says `-- severity: error` or `-- severity: warn`, and its query selects the `provider`
and `call_key` of every call that breaks it. `run` evaluates every rule in one statement
and replaces `call_checks` with one row per rule per provider that has calls (passing
rules included), then applies the comments of `transforms/comments_checks.sql`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

log = logging.getLogger("callsync.checks")

TRANSFORMS = Path(__file__).resolve().parent.parent / "transforms"
CHECKS = TRANSFORMS / "checks"
COMMENTS = TRANSFORMS / "comments_checks.sql"
SEVERITIES = ("error", "warn")
SEVERITY = re.compile(r"^-- severity: (\w+)\s*$", re.MULTILINE)
NAME = re.compile(r"[a-z][a-z0-9_]*")  # written into SQL as a literal and an alias
SAMPLES = 5


@dataclass(frozen=True)
class Rule:
    """One rule file: its name (the file's stem), severity and query."""

    name: str
    severity: str
    sql: str


@dataclass(frozen=True)
class CheckResult:
    """One row of `call_checks`."""

    rule: str
    provider: str
    severity: str
    failing_rows: int
    total_rows: int
    sample_keys: list[str]
    checked_at: datetime

    @property
    def failed(self) -> bool:
        return self.failing_rows > 0


def rules(folder: Path = CHECKS) -> list[Rule]:
    """Every rule in `folder`, by name.

    Raises:
        ValueError: A rule file has no valid `-- severity:` header, or a name that is not
            lowercase snake_case.
    """
    found = []
    for path in sorted(folder.glob("*.sql")):
        if not NAME.fullmatch(path.stem):
            raise ValueError(f"{path}: a rule's file name must be lowercase snake_case")
        sql = path.read_text().strip().removesuffix(";")
        severity = SEVERITY.search(sql)
        if severity is None or severity.group(1) not in SEVERITIES:
            raise ValueError(f"{path}: the header needs a line '-- severity: error' "
                             "or '-- severity: warn'")
        found.append(Rule(path.stem, severity.group(1), sql))
    return found


def checks_sql(chosen: list[Rule]) -> str:
    """The query of `call_checks`: every rule crossed with every provider in `calls`."""
    declared = ",\n        ".join(f"('{r.name}', '{r.severity}')" for r in chosen)
    failing = "\n    union all\n    ".join(
        f"select '{r.name}' as rule, provider, call_key from (\n{r.sql}\n) as {r.name}"
        for r in chosen)
    return f"""
with declared (rule, severity) as (
    values
        {declared}
),

providers as (
    select provider, count(*) as total_rows from calls group by provider
),

failures as (
    {failing}
),

ranked as (
    select
        rule,
        provider,
        call_key,
        row_number() over (partition by rule, provider order by call_key) as n,
    from failures
),

counted as (
    select
        rule,
        provider,
        count(*) as failing_rows,
        array_agg(call_key order by call_key) filter (where n <= {SAMPLES}) as sample_keys,
    from ranked
    group by rule, provider
),

checks as (
    select
        declared.rule,
        providers.provider,
        declared.severity,
        cast(coalesce(counted.failing_rows, 0) as bigint) as failing_rows,
        cast(providers.total_rows as bigint) as total_rows,
        coalesce(counted.sample_keys, cast([] as varchar[])) as sample_keys,
        current_timestamp as checked_at,
    from declared
    cross join providers
    left join counted
        on counted.rule = declared.rule and counted.provider = providers.provider
)

select * from checks order by rule, provider
"""


def run(con: duckdb.DuckDBPyConnection) -> list[CheckResult]:
    """Evaluate every rule over `calls` and replace `call_checks` with the results.

    Args:
        con: A connection to a warehouse that has the table `calls`.

    Returns:
        The rows written, ordered by rule and provider.
    """
    con.execute("create or replace table main.call_checks as " + checks_sql(rules()))
    comment(con)
    return read(con)


def comment(con: duckdb.DuckDBPyConnection) -> None:
    """Apply `comments_checks.sql`, one statement at a time: a warehouse last built by an
    older callsync may lack `calls_gaps` (it appears with the next build), and that must
    not stop `callsync check`."""
    for statement in COMMENTS.read_text().split(";\n"):
        lines = [line for line in statement.splitlines() if not line.startswith("--")]
        if "".join(lines).strip():
            try:
                con.execute("\n".join(lines))
            except duckdb.CatalogException:
                log.debug("not commented (no such object yet): %s", lines[0])


def read(con: duckdb.DuckDBPyConnection) -> list[CheckResult]:
    """The rows of `call_checks`, ordered by rule and provider."""
    cursor = con.execute(
        "select rule, provider, severity, failing_rows, total_rows, sample_keys, "
        "checked_at from main.call_checks order by rule, provider")
    return [CheckResult(*row) for row in cursor.fetchall()]


def failed(results: list[CheckResult], fail_on: str | None) -> list[CheckResult]:
    """The results that make `callsync check --fail-on <fail_on>` exit 1.

    `error` counts failing `error` rules; `warn` counts every failing rule; None none.
    """
    if fail_on is None:
        return []
    return [r for r in results if r.failed and (fail_on == "warn" or r.severity == "error")]
