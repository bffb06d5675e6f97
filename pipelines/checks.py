"""Data-quality rules over `calls`, written into the table `call_checks`.

One rule per file in `transforms/checks/`: the file name is the rule's name, its header
(`--` lines) says `-- severity: error` or `-- severity: warn`, the rule and why, and its
body is one SQL condition over the columns of one `calls` row, true when that call breaks
the rule (NULL counts as passing, as in a WHERE). `run` folds every condition, as written,
into ONE aggregate over `calls` grouped by provider (`count(*) filter (where <condition>)`
and `min(call_key, 5) filter (where <condition>)` per rule), so the checks cost one scan
of `calls` however many rules there are. It replaces `call_checks` with one row per rule
per provider that has calls (passing rules included), then applies the comments of
`transforms/comments_checks.sql`.
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
QUERY = re.compile(r"\s*\(?\s*(select|with|from)\b", re.IGNORECASE)
SAMPLES = 5


@dataclass(frozen=True)
class Rule:
    """One rule file: its name (the file's stem), severity and failing-row condition."""

    name: str
    severity: str
    condition: str


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
        ValueError: A rule file has no valid `-- severity:` header, a name that is not
            lowercase snake_case, or no condition (or a query instead of one).
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
        body = "\n".join(line for line in sql.splitlines() if not line.startswith("--"))
        if not body.strip() or QUERY.match(body):
            raise ValueError(f"{path}: after the header, write the condition a failing call "
                             "meets (e.g. 'ended_at < started_at'), not a query")
        found.append(Rule(path.stem, severity.group(1), body.strip()))
    return found


def checks_sql(chosen: list[Rule]) -> str:
    """The query of `call_checks`: every rule crossed with every provider in `calls`.

    One pass over `calls`: `flagged` turns each rule's condition into a boolean column
    `fails_<rule>`, evaluated once per row; `counted` aggregates them by provider (a
    filtered count and a filtered `min(call_key, 5)`: the 5 smallest failing keys, in
    order); its few rows (one per provider) become one row per rule and provider.
    """
    # `case when` evaluates the condition as a filter does, short-circuiting `and`/`or`
    # (a bare boolean in a select list evaluates every operand: numbers_are_e164's second
    # regular expression would then run on every number, 2x its cost); NULL -> false
    flags = "".join(f"\n        case when (\n{r.condition}\n        ) then true else false end"
                    f" as fails_{r.name}," for r in chosen)
    measures = "".join(
        f"\n        count(*) filter (where fails_{r.name}) as {r.name}__failing,"
        f"\n        min(call_key, {SAMPLES}) filter (where fails_{r.name}) as {r.name}__samples,"
        for r in chosen)
    checks = "\n    union all\n    ".join(
        f"""select
        '{r.name}' as rule,
        provider,
        '{r.severity}' as severity,
        {r.name}__failing as failing_rows,
        total_rows,
        coalesce({r.name}__samples, cast([] as varchar[])) as sample_keys,
    from counted"""
        for r in chosen)
    return f"""
with flagged as (
    select
        provider,
        call_key,{flags}
    from calls
),

-- materialized: each rule's select below reads it, and must not aggregate calls again
counted as materialized (
    select
        provider,
        count(*) as total_rows,{measures}
    from flagged
    group by provider
),

checks as (
    {checks}
)

select
    rule,
    provider,
    severity,
    cast(failing_rows as bigint) as failing_rows,
    cast(total_rows as bigint) as total_rows,
    sample_keys,
    current_timestamp as checked_at,
from checks
order by rule, provider
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
