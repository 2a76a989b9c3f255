"""Short durations in query strings (`?wait=2s`, `?deadline=800ms`), up to 10 seconds.

The pattern is the whole rule: every string it matches is a duration in range, so the OpenAPI
document states exactly what is accepted (`0`, `2`, `2s`, `1.5s`, `800ms`, `10s`, `10000ms`),
and a client generated from it never sends a well-formed value the API then refuses.
"""

from __future__ import annotations

import re

MAX_S = 10.0

_FRACTION = r"(?:\.\d{1,3})?"
_NONZERO_FRACTION = r"0\.(?:[1-9]\d{0,2}|0[1-9]\d?|00[1-9])"  # 0.001 … 0.999
_ZERO = r"0(?:\.0{1,3})?"
_SECONDS = rf"(?:[1-9]{_FRACTION}|{_NONZERO_FRACTION}|10(?:\.0{{1,3}})?)"  # (0, 10]
_MILLIS = rf"(?:[1-9]\d{{0,3}}{_FRACTION}|{_NONZERO_FRACTION}|10000(?:\.0{{1,3}})?)"  # (0, 10000]

POSITIVE = rf"^(?:{_SECONDS}s?|{_MILLIS}ms)$"
"""Above 0, at most 10 s."""
NON_NEGATIVE = rf"^(?:(?:{_SECONDS}|{_ZERO})s?|(?:{_MILLIS}|{_ZERO})ms)$"
"""0 to 10 s."""

_PARTS = re.compile(r"^([\d.]+)(ms|s)?$")


def seconds(value: str, pattern: str) -> float | None:
    """`value` in seconds, or None when it does not match `pattern`."""
    if not re.match(pattern, value):
        return None
    found = _PARTS.match(value)
    if found is None:  # unreachable: the patterns only match numbers with a unit
        return None
    return float(found[1]) / (1000 if found[2] == "ms" else 1)
