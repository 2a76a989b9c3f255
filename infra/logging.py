"""Logging set-up (called once by each entry point, never by library code) and liveness."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

_FORMAT = "%(asctime)s %(levelname)-7s %(processName)s %(name)s: %(message)s"


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(_FORMAT, datefmt="%H:%M:%S"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiokafka", "faust", "mode", "uvicorn.access", "httpx"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


async def heartbeat(path: Path | None, every: float = 5.0) -> None:
    """Touch `path` every few seconds, for container healthchecks; a no-op without a path."""
    while path is not None:
        await asyncio.to_thread(path.touch)
        await asyncio.sleep(every)
