"""Feed positions: the next offset to deliver per partition of the verdict topic.

Written as a token `partition:offset,…` (e.g. `0:1200,1:988,2:0,3:77`): the SSE `id:` of every
verdict, so `Last-Event-ID` (or `since=`) resumes exactly after the last one received.
"""

from __future__ import annotations

import re
from datetime import datetime

Positions = dict[int, int]
Start = Positions | datetime | str
"""Where a subscription starts: positions, a time, or `now` / `earliest`."""

_TOKEN = re.compile(r"^\d{1,5}:\d{1,19}(,\d{1,5}:\d{1,19})*$")


def dump(positions: Positions) -> str:
    return ",".join(f"{p}:{o}" for p, o in sorted(positions.items()))


def parse(value: str) -> Start:
    """A start from a token, an ISO-8601 time with a zone, `now` or `earliest`; else ValueError."""
    value = value.strip()
    if value in ("now", "earliest"):
        return value
    if _TOKEN.match(value):
        return {int(p): int(o) for p, o in (pair.split(":") for pair in value.split(","))}
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("a time needs a zone, e.g. 2026-11-21T09:30:00Z")
    return moment
