"""One writer per warehouse: an exclusive lock file beside the DuckDB file."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from sources._http import ProviderError


class WarehouseBusy(ProviderError):
    """Another callsync process holds the warehouse."""


class WarehouseLock:
    """`with WarehouseLock(path):` holds `<path>.lock`, or raises `WarehouseBusy` at once."""

    def __init__(self, warehouse: Path) -> None:
        self.path = warehouse.with_name(warehouse.name + ".lock")
        self._fd: int | None = None

    def __enter__(self) -> WarehouseLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise WarehouseBusy(
                "callsync", f"another callsync is writing {self.path.with_suffix('')} "
                f"(pid {holder}); wait for it to finish, then run again") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
