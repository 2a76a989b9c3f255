"""What the API process holds for its lifetime: settings, the publisher, the warehouse, the sink."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from infra.kafka import Publisher
from infra.settings import Settings
from infra.warehouse import Warehouse
from infra.warehouse.sink import WarehouseSink


@dataclass
class AppState:
    settings: Settings
    bootstrap: str
    publisher: Publisher
    warehouse: Warehouse
    sink: WarehouseSink | None = None
    sink_task: asyncio.Task[None] | None = field(default=None, repr=False)
