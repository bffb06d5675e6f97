"""Every configured credential is masked in everything callsync logs, whichever
provider's message or traceback it turns up in."""

from __future__ import annotations

import logging
from collections.abc import Iterable

import dlt

from sources import PROVIDERS

MASK = "***"


class RedactingFormatter(logging.Formatter):
    """A formatter whose finished lines (tracebacks included) have secrets masked."""

    def __init__(self, fmt: str) -> None:
        super().__init__(fmt)
        self.secrets: set[str] = set()

    def add(self, values: Iterable[object]) -> None:
        for value in values:
            if isinstance(value, str) and len(value.strip()) >= 6:
                self.secrets.add(value.strip())

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, MASK)
        return text


def configured_secrets() -> list[object]:
    """The values of every provider's secret keys, as dlt's config providers give them."""
    values: list[object] = []
    for provider in PROVIDERS.values():
        for keys in provider.secret_keys:
            values += [dlt.secrets.get(f"sources.{provider.slug}.{key}") for key in keys]
    return values


def formatters() -> list[RedactingFormatter]:
    """The redacting formatters of the root logger's handlers."""
    return [h.formatter for h in logging.getLogger().handlers
            if isinstance(h.formatter, RedactingFormatter)]


def add_secrets(values: Iterable[object]) -> None:
    """Mask these values too (the demo's simulator keys, tokens issued mid-run)."""
    values = list(values)
    for formatter in formatters():
        formatter.add(values)
