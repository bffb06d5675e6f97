"""The call store: held calls (`ListStore`) and calls made on demand (`LazyStore`) are
two implementations of one interface, so a fake's handler serves either the same way."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from simulator.sipsim import SipsimSim
from simulator.store import CallView, ListStore, scan
from simulator.volume import EagerOnly
from sources._time import parse_timestamp
from tests.conftest import NOW

SIZE = 300


def registered(call: dict[str, Any]) -> datetime:
    moment = parse_timestamp(call["registration_time"])
    assert moment is not None
    return moment


def held_copy(lazy: SipsimSim) -> ListStore:
    """The lazy account's calls, made once and held in a list."""
    rows = [dict(call, _ts=registered(call)) for call in lazy.all_calls()]
    return ListStore(lambda: rows, time=lambda c: c["_ts"], serve=SipsimSim.public,
                     key=lambda c: c["id"])


@pytest.fixture
def lazy() -> SipsimSim:
    return SipsimSim(size=SIZE, now=NOW, lazy=True)


def test_both_stores_answer_windows_pages_cursors_and_ids_alike(lazy: SipsimSim) -> None:
    made, held = lazy.store.view(), held_copy(lazy).view()
    assert len(made) == len(held) == SIZE
    times = [registered(c) for c in held.calls(range(SIZE))]
    for moment in (times[0], times[SIZE // 2], times[-1], times[7] + timedelta(seconds=1),
                   times[0] - timedelta(days=1), NOW + timedelta(days=1)):
        assert (made.lower(moment), made.upper(moment)) == (
            held.lower(moment), held.upper(moment)), moment
    window = range(made.upper(times[SIZE // 2]) - 1, made.lower(times[10]) - 1, -1)
    assert made.calls(window) == held.calls(window)
    for i in (0, 11, SIZE // 2, SIZE - 1):
        key = made.key(i)
        assert key == held.key(i)
        assert made.find(key, window) == held.find(key, window) == (i if i in window else None)
        found = held_copy(lazy).get(str(key))  # as held: internal keys too
        assert found is not None and lazy.store.get(str(key)) == SipsimSim.public(found)
    assert made.find("call_999999", range(SIZE)) is None
    assert held.find("call_999999", range(SIZE)) is None


def test_a_filtered_scan_is_the_same_over_either_store(lazy: SipsimSim) -> None:
    def tagged(call: dict[str, Any]) -> bool:
        return any(tag["id"] == 20 for tag in call["tags"])

    views: list[CallView] = [lazy.store.view(), held_copy(lazy).view()]
    pages = [scan(view, range(SIZE - 1, -1, -1), 25, tagged) for view in views]
    assert pages[0] == pages[1]
    page, where, more = pages[0]
    assert len(page) == len(where) == 25 and more and all(tagged(c) for c in page)


def test_extend_grows_either_store_and_moves_the_clock() -> None:
    eager, lazy = SipsimSim(size=20, now=NOW), SipsimSim(size=20, now=NOW, lazy=True)
    for fake in (eager, lazy):
        fake.extend(5)
        calls = fake.all_calls()
        assert fake.count() == len(calls) == 25
        assert registered(calls[-1]) < fake.now
    with pytest.raises(EagerOnly):
        lazy.complete_call(lazy.all_calls()[0]["id"])
