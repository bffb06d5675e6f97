"""Bland's paginator as pure code: the `before` cursor and where the walk ends."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from sources.bland.client import BeforeCursorPaginator, calls_table


def page(*ids: str | None) -> pa.Table:
    return calls_table([{"call_id": i} if i is not None else {"no": "id"} for i in ids],
                       "+14150000000")


def test_first_request_sets_limit_and_no_cursor() -> None:
    params: dict[str, Any] = {"phone_number": "+14150000000"}
    BeforeCursorPaginator(2).init_request(params)
    assert params == {"phone_number": "+14150000000", "limit": 2}


def test_full_page_continues_before_its_last_id() -> None:
    paginator, params = BeforeCursorPaginator(2), {}
    paginator.update_state(None, page("a", "b"))
    assert paginator.has_next_page
    assert paginator.update_request(params) is None and params == {"before": "b"}


def test_last_id_skips_records_without_one() -> None:
    paginator, params = BeforeCursorPaginator(2), {}
    paginator.update_state(None, page("a", None))
    assert paginator.update_request(params) is None and params == {"before": "a"}


def test_short_or_empty_page_ends_the_walk() -> None:
    for records in (page("a"), page()):
        paginator = BeforeCursorPaginator(2)
        paginator.update_state(None, records)
        assert not paginator.has_next_page


def test_page_without_any_id_ends_the_walk() -> None:
    paginator = BeforeCursorPaginator(2)
    paginator.update_state(None, page(None, None))
    assert not paginator.has_next_page
