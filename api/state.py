"""What the API process holds for its lifetime: settings, publisher, warehouse, accounts store,
sink, live feed."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from api.accounts.limits import LoginLimiter
from api.accounts.meter import UsageMeter
from api.feed.hub import VerdictHub
from api.review.intake import ReviewIntake
from api.review.webhooks import Deliverer
from infra.accounts import AccountsDB, PrivacyRegistry
from infra.blocks import BlockList
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
    accounts: AccountsDB
    privacy: PrivacyRegistry
    login_limiter: LoginLimiter
    sink: WarehouseSink | None = None
    sink_task: asyncio.Task[None] | None = field(default=None, repr=False)
    feed: VerdictHub | None = None
    rollups_task: asyncio.Task[None] | None = field(default=None, repr=False)
    blocks: BlockList | None = None
    intake: ReviewIntake | None = None
    webhooks: Deliverer | None = None
    review_tasks: list[asyncio.Task[None]] = field(default_factory=list, repr=False)
    replay_lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)
    """Serialises dead-letter replays in this process (api/replay.py)."""
    draining: bool = False  # shutting down: writes answer 503 (`modstream up` sends SIGUSR1)
    meter: UsageMeter = field(init=False, repr=False)
    """Request counts and quotas (api/accounts/meter.py), over `accounts`."""
    meter_task: asyncio.Task[None] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.meter = UsageMeter(self.accounts)
