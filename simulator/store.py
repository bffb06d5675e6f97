"""One call store interface for every simulator, with two implementations.

A fake's HTTP handler is written once against `CallView`: the calls of one partition (a
Bland number's log, an account) at the moment of a request, index 0 = the oldest in the
API's order key (non-decreasing in the index), so that

- a time window is two bisects (`lower`, `upper`) and its count their difference;
- a page is a range of indices (newest-first APIs walk it backwards), served by `calls`;
- a cursor names a call by its key (`key`, `find`);
- filters other than time scan the served records, as a server would.

`ListStore` holds made calls in a list (tests and the demo: mutations such as
`complete_call` change them in place); `LazyStore` holds none and makes call i on demand
from the seed (`simulator.volume`: the benchmarks' millions of calls in flat memory).
A fake takes a snapshot view per request (`store.view()`), so a page walk sees one
consistent list even while a test adds calls.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, Protocol

from simulator.volume import TimeView, micros

Record = dict[str, Any]


class CallView(Protocol):
    """A partition's calls at one moment, oldest first in the API's order key."""

    def __len__(self) -> int:
        """How many calls there are (without making them)."""
        ...

    def lower(self, moment: datetime) -> int:
        """The first index whose order time is at or after `moment`."""
        ...

    def upper(self, moment: datetime) -> int:
        """The first index whose order time is after `moment`."""
        ...

    def calls(self, indices: Iterable[int]) -> list[Record]:
        """The calls at `indices`, as the API serves them (one loop: a page's hot path)."""
        ...

    def key(self, i: int) -> object:
        """The key a cursor uses to name call i (its id as served)."""
        ...

    def find(self, key: object, among: Iterable[int]) -> int | None:
        """The first index of `among` whose call `key` names, or None."""
        ...


class CallStore(Protocol):
    """Where a fake's calls live: made and held (`ListStore`) or made on demand
    (`LazyStore`)."""

    def view(self) -> CallView:
        """The calls as of now (a snapshot a request works on)."""
        ...

    def get(self, text: str) -> Record | None:
        """The call whose key, as text, is `text` (as held: mutable for a list store)."""
        ...

    def extend(self, n: int) -> None:
        """`n` calls newer than all others (the lazy store makes them from the seed)."""
        ...


class ListView:
    """`CallView` over held records (a snapshot list, oldest first)."""

    def __init__(self, rows: Sequence[Record], time: Callable[[Record], datetime],
                 serve: Callable[[Record], Record], key: Callable[[Record], object]) -> None:
        self.rows, self._time, self._serve, self._key = rows, time, serve, key

    def __len__(self) -> int:
        return len(self.rows)

    def lower(self, moment: datetime) -> int:
        return bisect_left(self.rows, moment, key=self._time)

    def upper(self, moment: datetime) -> int:
        return bisect_right(self.rows, moment, key=self._time)

    def calls(self, indices: Iterable[int]) -> list[Record]:
        rows, serve = self.rows, self._serve
        return [serve(rows[i]) for i in indices]

    def key(self, i: int) -> object:
        return self._key(self.rows[i])

    def find(self, key: object, among: Iterable[int]) -> int | None:
        rows, key_of = self.rows, self._key
        return next((i for i in among if key_of(rows[i]) == key), None)


class ListStore:
    """Calls made once and held by the fake (`rows()` gives them oldest first in the
    order key); `serve` strips internal keys, `key` names a call for cursors."""

    def __init__(self, rows: Callable[[], Sequence[Record]],
                 time: Callable[[Record], datetime], serve: Callable[[Record], Record],
                 key: Callable[[Record], object],
                 add: Callable[[int], object] | None = None) -> None:
        self._rows, self._time, self._serve, self._key, self._add = rows, time, serve, key, add

    def view(self) -> ListView:
        return ListView(self._rows(), self._time, self._serve, self._key)

    def get(self, text: str) -> Record | None:
        return next((r for r in self._rows() if str(self._key(r)) == text), None)

    def extend(self, n: int) -> None:
        if self._add is None:
            raise NotImplementedError("this store does not grow")
        self._add(n)


class LazyView:
    """`CallView` over calls made on demand: `time(i)` (epoch us, non-decreasing in i),
    `make(indices)` the served records, `key(i)` the id, `index(key)` its inverse."""

    def __init__(self, count: int, time: Callable[[int], int],
                 make: Callable[[Iterable[int]], list[Record]], key: Callable[[int], object],
                 index: Callable[[object], int | None]) -> None:
        self.count, self._make, self._key, self._index = count, make, key, index
        self._times = TimeView(time, count)

    def __len__(self) -> int:
        return self.count

    def lower(self, moment: datetime) -> int:
        return bisect_left(self._times, micros(moment))

    def upper(self, moment: datetime) -> int:
        return bisect_right(self._times, micros(moment))

    def calls(self, indices: Iterable[int]) -> list[Record]:
        return self._make(indices)

    def key(self, i: int) -> object:
        return self._key(i)

    def find(self, key: object, among: Iterable[int]) -> int | None:
        i = self._index(key)
        if i is None or not 0 <= i < self.count or self._key(i) != key:
            return None
        if isinstance(among, range):  # the usual case: O(1)
            return i if i in among else None
        return i if i in set(among) else None


class LazyStore:
    """Calls made on demand from the seed: nothing held, so memory is flat in the count.

    `count` grows with `extend`; `on_extend(count)` lets the fake move its clock.
    """

    def __init__(self, count: int, time: Callable[[int], int],
                 make: Callable[[Iterable[int]], list[Record]], key: Callable[[int], object],
                 index: Callable[[object], int | None],
                 on_extend: Callable[[int], None] | None = None) -> None:
        self.count = count
        self._time, self._make, self._key, self._index = time, make, key, index
        self._on_extend = on_extend

    def view(self) -> LazyView:
        return LazyView(self.count, self._time, self._make, self._key, self._index)

    def get(self, text: str) -> Record | None:
        i = self._index(text)
        if i is None or not 0 <= i < self.count or str(self._key(i)) != text:
            return None
        return self._make((i,))[0]

    def extend(self, n: int) -> None:
        self.count += n
        if self._on_extend is not None:
            self._on_extend(self.count)


def chunked(view: CallView, indices: Sequence[int],
            chunk: int = 256) -> Iterator[tuple[int, Record]]:
    """(index, call as served) for `indices`, made a chunk at a time (a scan of a million
    lazy calls holds a chunk, not the million)."""
    for start in range(0, len(indices), chunk):
        part = indices[start:start + chunk]
        yield from zip(part, view.calls(part), strict=True)


def scan(view: CallView, indices: Sequence[int], limit: int,
         matches: Callable[[Record], bool]) -> tuple[list[Record], list[int], bool]:
    """The first `limit` calls of `indices` that match, their indices, and whether
    another one matches (a filter costs the calls it skips, as on a server)."""
    page: list[Record] = []
    where: list[int] = []
    for i, call in chunked(view, indices):
        if matches(call):
            if len(page) == limit:
                return page, where, True
            page.append(call)
            where.append(i)
    return page, where, False
