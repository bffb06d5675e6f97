"""Dropping credential-like keys from records before they reach the warehouse."""

from __future__ import annotations

import re
from typing import Any

CREDENTIAL_KEY = re.compile(
    r"pass(word|wd|phrase)?|secret|token|credential|authori[sz]ation|api[-_]?key|auth[-_]?key"
    r"|private[-_]?key|^auth$|^pwd$",
    re.IGNORECASE,
)


def drop_credentials(value: Any) -> Any:
    """A copy of `value` without any key, at any depth, that looks like a credential."""
    if isinstance(value, dict):
        return {k: drop_credentials(v) for k, v in value.items()
                if not CREDENTIAL_KEY.search(str(k))}
    if isinstance(value, list):
        return [drop_credentials(v) for v in value]
    return value
