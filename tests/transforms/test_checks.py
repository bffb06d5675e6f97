"""`call_checks`: each rule of `transforms/checks/` over hand-made `calls` rows.

Each case is one rule: calls that break it (their keys must be the failing ones) and calls
on the edge of it that must pass, beside a clean call of another provider.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from pipelines import checks
from pipelines.engines import transpile
from tests.transforms.helpers import build, connect, load_raw, rows

T0 = datetime(2026, 3, 9, 12, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)
COLUMNS = ("call_key", "provider", "call_id", "account_id", "direction", "status",
           "answered", "started_at", "answered_at", "ended_at", "duration_seconds",
           "wait_seconds", "from_number", "to_number", "sip_code", "provider_status",
           "end_reason", "recording_url", "synced_at")


def call(call_id: str, provider: str = "sipsim", **changes: Any) -> dict[str, Any]:
    """A clean answered call (it passes every rule), with `changes`."""
    row = {
        "call_key": f"{provider}:{call_id}", "provider": provider, "call_id": call_id,
        "account_id": None, "direction": "inbound", "status": "completed", "answered": True,
        "started_at": T0, "answered_at": T0 + 10 * SECOND, "ended_at": T0 + 70 * SECOND,
        "duration_seconds": 60, "wait_seconds": 10, "from_number": "+14155550100",
        "to_number": "+442071838750", "sip_code": 200, "provider_status": "answer",
        "end_reason": None, "recording_url": None, "synced_at": T0,
    }
    return {**row, **changes}


def insert(con: duckdb.DuckDBPyConnection, calls: list[dict[str, Any]]) -> None:
    con.executemany(f"insert into calls ({', '.join(COLUMNS)}) values "
                    f"({', '.join('?' for _ in COLUMNS)})",
                    [[c[name] for name in COLUMNS] for c in calls])


@pytest.fixture
def con(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A warehouse built from no raw rows: an empty `calls` of the contract's columns."""
    connection = connect(tmp_path / "w.duckdb")
    build(connection)
    yield connection
    connection.close()


@dataclass
class Case:
    rule: str
    severity: str
    failing: list[dict[str, Any]]
    passing: list[dict[str, Any]] = field(default_factory=list)


def future(minutes: int) -> datetime:
    return datetime.now(UTC) + timedelta(minutes=minutes)


def cases() -> dict[str, Case]:
    """Built when a test runs: the future is measured from then."""
    return {
        "ended before started": Case("ended_after_started", "error", failing=[
            call("f1", answered=False, status="failed", answered_at=None, duration_seconds=0,
                 ended_at=T0 - SECOND),
        ], passing=[
            call("p1", answered=False, status="failed", answered_at=None, duration_seconds=0,
                 ended_at=T0),
            call("p2", status="in_progress", answered=False, answered_at=None, ended_at=None,
                 duration_seconds=0),
        ]),
        "answered outside the call": Case("answered_within_call", "error", failing=[
            call("f1", answered_at=T0 - SECOND),
            call("f2", answered_at=T0 + 71 * SECOND),
        ], passing=[
            call("p1", answered_at=T0, duration_seconds=70),
            call("p2", answered_at=T0 + 70 * SECOND, duration_seconds=1),
            call("p3", status="in_progress", ended_at=None, duration_seconds=0),  # still talking
        ]),
        "duration off the times by more than 2 s": Case("duration_matches_times", "warn", failing=[
            call("f1", duration_seconds=63),
            call("f2", duration_seconds=57),
        ], passing=[
            call("p1", duration_seconds=62),
            call("p2", duration_seconds=58),
            call("p3", answered_at=None, duration_seconds=600),  # no answer time: not checked
        ]),
        "answered with no duration": Case("answered_has_duration", "warn", failing=[
            call("f1", duration_seconds=0, answered_at=T0 + 70 * SECOND),
        ], passing=[
            call("p1", status="in_progress", ended_at=None, duration_seconds=0),  # live
            call("p2", status="no_answer", answered=False, answered_at=None, duration_seconds=0),
        ]),
        "started in the future": Case("started_not_in_future", "error", failing=[
            call("f1", started_at=future(10), answered_at=None, ended_at=None, status="in_progress",
                 answered=False, duration_seconds=0),
        ], passing=[
            call("p1", started_at=future(4), answered_at=None, ended_at=None, status="in_progress",
                 answered=False, duration_seconds=0),
        ]),
        "phone-like numbers not in E.164": Case("numbers_are_e164", "warn", failing=[
            call("f1", from_number="4155550100"),  # national: no default country is assumed
            call("f2", to_number="+04155550100"),
            call("f3", from_number="(415) 555-0100", to_number="1234567890123456"),
        ], passing=[
            call("p1", from_number="anonymous", to_number="1001"),  # not numbers; extension
            call("p2", from_number="sip:+14155550100@sip.example.com", to_number=None),
            call("p3", from_number="+123456789012345", to_number="+1234567"),
        ]),
        "status and answered disagree": Case("status_matches_answered", "error", failing=[
            call("f1", answered=False),
            call("f2", status="voicemail"),
        ], passing=[
            call("p1", status="voicemail", answered=False),
            call("p2", status="failed", answered=True),  # answered, then the call failed
        ]),
        "answered but never reached": Case("answered_was_reached", "warn", failing=[
            call("f1", status="no_answer"),
            call("f2", status="busy"),
            call("f3", status="canceled"),
        ], passing=[
            call("p1", status="busy", answered=False, answered_at=None, duration_seconds=0),
            call("p2", status="unknown"),
        ]),
        "completed without an end": Case("completed_has_ended", "warn", failing=[
            call("f1", ended_at=None, duration_seconds=0),  # SIPSIM's live call
        ], passing=[
            call("p1", status="in_progress", ended_at=None, duration_seconds=0),
        ]),
    }


def results(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], checks.CheckResult]:
    return {(r.rule, r.provider): r for r in checks.run(con)}


@pytest.mark.parametrize("name", cases())
def test_rule_lists_the_calls_that_break_it(con: duckdb.DuckDBPyConnection, name: str) -> None:
    case = cases()[name]
    insert(con, [call("clean", provider="unpod"), *case.failing, *case.passing])
    found = results(con)
    hit = found[(case.rule, "sipsim")]
    assert hit.severity == case.severity
    assert hit.failing_rows == len(case.failing)
    assert hit.sample_keys == sorted(c["call_key"] for c in case.failing)
    assert hit.total_rows == len(case.failing) + len(case.passing)
    clean = found[(case.rule, "unpod")]
    assert (clean.failing_rows, clean.sample_keys, clean.total_rows) == (0, [], 1)


def test_a_clean_call_passes_every_rule_and_each_rule_has_a_case(
    con: duckdb.DuckDBPyConnection,
) -> None:
    insert(con, [call("a"), call("b", provider="jambonz", status="no_answer", answered=False,
                                 answered_at=None, duration_seconds=0)])
    found = results(con)
    names = {rule.name for rule in checks.rules()}
    assert set(found) == {(name, p) for name in names for p in ("sipsim", "jambonz")}
    assert all(r.failing_rows == 0 and r.total_rows == 1 for r in found.values())
    assert names == {case.rule for case in cases().values()}


def test_samples_are_the_five_smallest_keys(con: duckdb.DuckDBPyConnection) -> None:
    insert(con, [call(f"k{i}", ended_at=T0 - SECOND, answered_at=None) for i in range(7)])
    hit = results(con)[("ended_after_started", "sipsim")]
    assert hit.failing_rows == 7
    assert hit.sample_keys == [f"sipsim:k{i}" for i in range(5)]


def test_no_calls_no_rows_and_the_table_is_replaced(con: duckdb.DuckDBPyConnection) -> None:
    assert checks.run(con) == []
    insert(con, [call("a", ended_at=T0 - SECOND)])
    first = results(con)
    con.execute("delete from calls")
    insert(con, [call("b", provider="bland")])
    second = results(con)
    assert {p for _, p in first} == {"sipsim"} and {p for _, p in second} == {"bland"}
    assert second[("ended_after_started", "bland")].checked_at >= first[
        ("ended_after_started", "sipsim")].checked_at


def test_every_build_writes_call_checks(con: duckdb.DuckDBPyConnection) -> None:
    from sources.bland.client import calls_table

    load_raw(con, "raw_bland.sip_calls", calls_table([
        {"call_id": "a", "started_at": "2026-03-09T00:00:00Z", "sip_code": 200,
         "status": "200", "direction": "inbound", "duration_seconds": 0,
         "from": "+14150000001", "to": "+15105550000"},
    ], "+14150000001"))
    build(con, incremental=True)
    got = rows(con, "select rule, failing_rows, total_rows from call_checks "
               "where provider = 'bland' and failing_rows > 0")
    # Bland gives no answer or end time: only the zero duration of a completed call shows
    assert got == [{"rule": "completed_has_ended", "failing_rows": 1, "total_rows": 1}]


def test_all_rules_read_calls_once(con: duckdb.DuckDBPyConnection) -> None:
    # the cost at 10M calls: one scan however many rules (a query per rule was 3.2 s)
    plan = con.execute("explain (format json) " + checks.checks_sql(checks.rules())).fetchall()

    def nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
        yield node
        for child in node.get("children", []):
            yield from nodes(child)

    tables = [node["extra_info"].get("Table") for root in json.loads(plan[0][1])
              for node in nodes(root) if node["name"] in ("SEQ_SCAN", "TABLE_SCAN")]
    assert len(checks.rules()) > 1
    assert tables == ["w.main.calls"]


def test_columns_types_and_comments(con: duckdb.DuckDBPyConnection) -> None:
    insert(con, [call("a")])
    checks.run(con)
    columns = rows(con, "select column_name, data_type, comment from duckdb_columns() "
                   "where table_name = 'call_checks' order by column_index")
    assert [(c["column_name"], c["data_type"]) for c in columns] == [
        ("rule", "VARCHAR"), ("provider", "VARCHAR"), ("severity", "VARCHAR"),
        ("failing_rows", "BIGINT"), ("total_rows", "BIGINT"), ("sample_keys", "VARCHAR[]"),
        ("checked_at", "TIMESTAMP WITH TIME ZONE")]
    assert all(c["comment"] for c in columns)
    table = rows(con, "select comment from duckdb_tables() where table_name = 'call_checks'")
    assert table[0]["comment"]


def test_a_rule_file_without_a_severity_a_plain_name_or_a_condition_is_refused(
    tmp_path: Path,
) -> None:
    (tmp_path / "ok.sql").write_text("-- severity: warn\n-- rule: why\nended_at < started_at;\n")
    for name, text in [("bad.sql", "-- severity: fatal\nended_at < started_at"),
                       ("Bad-Name.sql", "-- severity: warn\nended_at < started_at"),
                       ("query.sql", "-- severity: warn\nselect provider, call_key from calls"),
                       ("cte.sql", "-- severity: warn\n WITH source as (select 1) select 1"),
                       ("empty.sql", "-- severity: warn\n-- rule: nothing\n")]:
        (tmp_path / name).write_text(text)
        with pytest.raises(ValueError, match=name):
            checks.rules(tmp_path)
        (tmp_path / name).unlink()
    assert [(r.name, r.severity, r.condition) for r in checks.rules(tmp_path)] == [
        ("ok", "warn", "ended_at < started_at")]


def test_a_rule_with_a_typo_fails_the_query(
    con: duckdb.DuckDBPyConnection, tmp_path: Path,
) -> None:
    insert(con, [call("a")])
    (tmp_path / "typo.sql").write_text("-- severity: warn\nended_att < started_at\n")
    with pytest.raises(duckdb.BinderException, match="ended_att"):
        con.execute(checks.checks_sql(checks.rules(tmp_path)))


@pytest.mark.parametrize("fail_on, failing", [
    (None, []), ("error", ["e"]), ("warn", ["e", "w"]),
])
def test_fail_on_picks_the_failing_rules_of_that_severity(
    fail_on: str | None, failing: list[str],
) -> None:
    def result(rule: str, severity: str, failing_rows: int) -> checks.CheckResult:
        return checks.CheckResult(rule, "bland", severity, failing_rows, 9, [], T0)

    got = checks.failed([result("e", "error", 1), result("e0", "error", 0),
                         result("w", "warn", 2), result("w0", "warn", 0)], fail_on)
    assert [r.rule for r in got] == failing


@pytest.mark.parametrize("rule", checks.rules(), ids=lambda r: r.name)
def test_rule_transpiles_to_postgres(rule: checks.Rule) -> None:
    # as tests/transforms/test_portability.py does for the models: the condition, in the
    # filtered aggregate the runner puts it in
    sql = (f"select provider, count(*) filter (where (\n{rule.condition}\n)) "
           "from calls group by provider")
    out = transpile(sql, "postgres")  # as the Postgres engine carries it
    assert "filter" in out.lower() and "regexp_full_match" not in out.lower()
