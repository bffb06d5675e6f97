"""Giving freed memory back to the operating system between the phases of a sync."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc


def release_memory() -> None:
    """Collect garbage, then ask glibc to return its free heap pages (a no-op elsewhere).

    Extraction threads leave freed Arrow buffers and pages in malloc's arenas; without
    this the process keeps them through the model build, and peak RSS adds up.
    """
    gc.collect()
    name = ctypes.util.find_library("c")
    if not name:
        return
    try:
        trim = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS)
        return
    trim(0)
