"""`calls_gaps`: quiet hours where the previous four weeks had calls at that hour.

The view reads the clock (the last full hour), so the calls are placed relative to the
current hour; `gaps()` re-reads when an hour boundary passed during the query.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.transforms.helpers import build, connect
from tests.transforms.test_checks import call, insert

HOUR = timedelta(hours=1)
WEEK = timedelta(weeks=1)


@pytest.fixture
def con(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = connect(tmp_path / "w.duckdb")
    build(connection)
    yield connection
    connection.close()


def current_hour() -> datetime:
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


def gaps(con: duckdb.DuckDBPyConnection,
         place: Callable[[datetime], list[dict[str, Any]]]) -> list[tuple[Any, ...]]:
    """Insert the calls `place` puts around the current hour, and read `calls_gaps` as
    (provider, how long before the current hour the gap begins, expected_calls)."""
    while True:
        hour = current_hour()
        con.execute("delete from calls")
        insert(con, place(hour))
        found = con.execute("select provider, hour, expected_calls from calls_gaps "
                            "order by provider, hour").fetchall()
        if current_hour() == hour:  # else an hour ended meanwhile: place them again
            return [(p, hour - h, e) for p, h, e in found]


def at(provider: str, when: datetime, n: int = 1, tag: str = "") -> list[dict[str, Any]]:
    """`n` calls of `provider` starting at `when` (a few minutes into its hour)."""
    start = when + timedelta(minutes=7)
    return [call(f"{tag}{start:%Y%m%d%H}-{i}", provider=provider, started_at=start,
                 answered_at=None, ended_at=start + HOUR / 4, duration_seconds=60)
            for i in range(n)]


def weekly(provider: str, hour: datetime, counts: tuple[int, ...]) -> list[dict[str, Any]]:
    """`counts[k - 1]` calls at `hour` minus k weeks."""
    return [c for k, n in enumerate(counts, 1) for c in at(provider, hour - k * WEEK, n)]


def test_an_hour_busy_in_the_previous_weeks_and_quiet_now_is_listed(
    con: duckdb.DuckDBPyConnection,
) -> None:
    def place(now: datetime) -> list[dict[str, Any]]:
        calls = at("bland", now - 30 * 24 * HOUR)  # the first call, 30 days ago
        calls += weekly("bland", now - HOUR, (2, 1, 0, 3))  # the last full hour: mean 1.5
        calls += at("bland", now - 2 * HOUR)  # a call in the hour before: not quiet
        return calls

    # (the 3 calls of 4 weeks ago also make the hour 3 weeks ago expect 0.75: not listed)
    assert gaps(con, place) == [("bland", HOUR, 1.5)]


def test_quiet_hours_are_listed_only_where_calls_were_expected(
    con: duckdb.DuckDBPyConnection,
) -> None:
    def place(now: datetime) -> list[dict[str, Any]]:
        calls = at("unpod", now - 29 * 24 * HOUR)
        calls += weekly("unpod", now - 5 * HOUR, (1, 1, 1))  # mean 3 / 4: not listed
        calls += weekly("unpod", now - 6 * HOUR, (1, 1, 1, 1))  # mean 1, quiet: listed
        calls += weekly("unpod", now - 7 * HOUR, (1, 1, 1, 1))  # mean 1, but a call now
        calls += at("unpod", now - 7 * HOUR)
        return calls

    assert gaps(con, place) == [("unpod", 6 * HOUR, 1.0)]


def test_weeks_before_the_first_call_count_as_none(
    con: duckdb.DuckDBPyConnection,
) -> None:
    # a provider 8 days old: its one week of history is a mean over four weeks
    def place(now: datetime) -> list[dict[str, Any]]:
        calls = at("sipsim", now - 8 * 24 * HOUR)  # the first call
        calls += weekly("sipsim", now - 2 * HOUR, (3,))  # 3 / 4: not listed
        calls += weekly("sipsim", now - 3 * HOUR, (4,))  # 4 / 4: listed
        return calls

    assert gaps(con, place) == [("sipsim", 3 * HOUR, 1.0)]


def test_hours_outside_the_providers_span_are_not_listed(
    con: duckdb.DuckDBPyConnection,
) -> None:
    # the hour running now is not full yet, and later hours have not come: neither is a
    # gap, though the weeks before them were busy; nor do bland's calls make gaps for
    # jambonz, which began after them
    def place(now: datetime) -> list[dict[str, Any]]:
        calls = weekly("bland", now, (1, 1, 1, 1))
        calls += weekly("bland", now + HOUR, (1, 1, 1, 1))
        calls += weekly("bland", now - 3 * HOUR, (1, 1, 1, 1))
        calls += at("jambonz", now - 10 * 24 * HOUR)
        return calls

    assert gaps(con, place) == [("bland", 3 * HOUR, 1.0)]


def test_hours_are_whole_utc_hours_in_any_session_time_zone(
    con: duckdb.DuckDBPyConnection,
) -> None:
    con.execute("set TimeZone = 'Asia/Kolkata'")  # +05:30: local hours are not UTC hours
    assert gaps(con, lambda now: weekly("sipsim", now - 2 * HOUR, (4,))) == [
        ("sipsim", 2 * HOUR, 1.0)]
    types = dict(con.execute("select column_name, data_type from information_schema.columns "
                             "where table_name = 'calls_gaps'").fetchall())
    assert types == {"provider": "VARCHAR", "hour": "TIMESTAMP WITH TIME ZONE",
                     "expected_calls": "DOUBLE"}


def test_the_view_and_its_columns_carry_comments(con: duckdb.DuckDBPyConnection) -> None:
    view = con.execute("select comment from duckdb_views() "
                       "where view_name = 'calls_gaps'").fetchall()
    columns = con.execute("select column_name, comment from duckdb_columns() "
                          "where table_name = 'calls_gaps'").fetchall()
    assert view[0][0] and {c for c, _ in columns} == {"provider", "hour", "expected_calls"}
    assert all(comment for _, comment in columns)
