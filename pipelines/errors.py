"""What went wrong, in one line: usage errors, and the cause inside dlt's wrappers.

dlt wraps what fails in a step (`PipelineStepFailed`, `DestinationConnectionError`,
`ResourceExtractionError`, ...) and the first line of the wrapper names only the step.
`cause()` walks the chain Python would print (`raise ... from`, dlt's `exception`
attribute, an exception raised while handling another) down to where it began, and
`one_line()` says that in one line, with what to do where the kind of failure tells.
"""

from __future__ import annotations

import errno

import duckdb

from sources._http import ProviderError

MAX_CHARS = 400


class UsageError(Exception):
    """The command line asks for something impossible; nothing was done (exit 2)."""


def cause(exc: BaseException) -> BaseException:
    """The exception where `exc` began: the first `ProviderError` in its chain (already
    one line, naming the provider), else the innermost exception."""
    seen: set[int] = set()
    current = exc
    while id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ProviderError):
            return current
        inner = current.__cause__ or getattr(current, "exception", None)
        if inner is None and not current.__suppress_context__:
            inner = current.__context__
        if not isinstance(inner, BaseException):
            break
        current = inner
    return current


def one_line(exc: BaseException) -> str:
    """`exc`'s cause as `Type: message (what to do)`, on one line, at most ~400 chars."""
    found = cause(exc)
    if isinstance(found, ProviderError):
        return _flat(str(found))
    text = _flat(str(found))
    what = _advice(found)
    line = f"{type(found).__name__}: {text}" if text else type(found).__name__
    if len(line) > MAX_CHARS:
        line = line[:MAX_CHARS - 3] + "..."
    return f"{line} ({what})"


def _flat(text: str) -> str:
    return " ".join(text.split())


def _advice(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return "the disk is full: free space beside the warehouse, then run again"
    if isinstance(exc, PermissionError):
        return "check the permissions of the warehouse file and its folder"
    if isinstance(exc, duckdb.OutOfMemoryException):
        return "raise [callsync] memory_limit (env CALLSYNC__MEMORY_LIMIT), or sync less at once"
    if isinstance(exc, duckdb.IOException):
        return "check that --warehouse (or DESTINATION__DUCKDB__CREDENTIALS) names a DuckDB " \
            "file in a writable folder"
    return "run again with --debug for the traceback"
