"""Batches that follow the traffic: one event when it is light, full batches under load.

Faust's `Stream.take_events(max, within)` waits up to `within` for every batch, even when the
agent is idle and an event is waiting (latency for nothing under light load), and stops
buffering while a batch is being judged, so under load a batch holds only what Faust moved in
`within` after the last one (small batches, when large ones would be cheaper).

`batches` keeps buffering while the agent judges, and hands over everything buffered (up to
`max_size`) as soon as the agent asks: an idle worker takes each event as it comes; a busy one
finds the next batch filled while it judged the last. It never acknowledges an event: the agent
does (`stream.ack`), once what the event produced is delivered, so nothing is committed before
its verdict is on the broker, and the agent may judge the next batch meanwhile.

It uses the hooks `take_events` itself is built on (a stream processor, passive draining and
manual acknowledgement).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

__all__ = ["batches"]


async def batches(stream: Any, max_size: int) -> AsyncIterator[list[Any]]:
    """Yield lists of Faust events from `stream` (see the module docstring)."""
    buffered: list[Any] = []
    ready = asyncio.Event()  # something is buffered
    room = asyncio.Event()  # the buffer is below max_size
    room.set()

    async def add(value: Any) -> Any:
        # Hold the stream (and its consumer) back; `wait` also returns when the stream stops.
        while len(buffered) >= max_size and not stream.should_stop:
            room.clear()
            await stream.wait(room)
        event = stream.current_event
        if event is None:
            raise RuntimeError("no current event while buffering a batch")
        buffered.append(event)
        ready.set()
        return value

    acks_were = stream.enable_acks
    stream.enable_acks = False  # the agent acknowledges each event once it is delivered
    stream.add_processor(add)
    stream._enable_passive(aiter(stream.channel))
    try:
        while not stream.should_stop:
            await stream.wait_for_stopped(ready)
            if not buffered:
                continue
            batch = buffered[:max_size]
            del buffered[:max_size]
            if not buffered:
                ready.clear()
            room.set()
            yield batch
    finally:
        stream.enable_acks = acks_were
        stream._processors.remove(add)
